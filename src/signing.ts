/**
 * Request signatures, both directions: the Standard Webhooks signature the relay puts on outgoing
 * webhooks, and the Slack signature it checks on incoming interaction callbacks. One HMAC helper
 * (WebCrypto, so it runs the same on Deno Deploy) serves both.
 *
 * @module
 */
import { concatBytes, timingSafeEqual } from "./bytes.ts";

const encoder = new TextEncoder();

/** HMAC-SHA256 of `message` under `key`. */
export async function hmacSha256(
  key: Uint8Array | string,
  message: Uint8Array | string,
): Promise<Uint8Array> {
  const raw = typeof key === "string" ? encoder.encode(key) : key;
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    raw as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const data = typeof message === "string" ? encoder.encode(message) : message;
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", cryptoKey, data as Uint8Array<ArrayBuffer>),
  );
}

/** Lower-case hex, as Slack spells its signatures. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Standard base64, as Standard Webhooks spells its signatures. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Decodes standard base64; throws on anything else. */
export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Standard Webhooks secrets look like `whsec_<base64 of 24 to 64 random bytes>`. */
export const WEBHOOK_SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;

/**
 * The `webhook-signature` header of the Standard Webhooks spec: `v1,` + base64 HMAC-SHA256 of
 * `${id}.${timestamp}.${body}` under the decoded `whsec_` secret. Receivers verify it with any of
 * the spec's libraries.
 */
export async function standardWebhookSignature(
  secret: string,
  id: string,
  timestampS: number,
  body: string,
): Promise<string> {
  const key = fromBase64(secret.replace(/^whsec_/, ""));
  return `v1,${toBase64(await hmacSha256(key, `${id}.${timestampS}.${body}`))}`;
}

/** How far a Slack request timestamp may be from our clock: Slack's own advice, 5 minutes. */
export const SLACK_SIGNATURE_WINDOW_S = 5 * 60;

/** `v0=` + hex HMAC-SHA256 of `v0:${timestamp}:${body}`: Slack's request signature. */
export async function slackSignature(
  secret: string,
  timestamp: string,
  body: Uint8Array | string,
): Promise<string> {
  const raw = typeof body === "string" ? encoder.encode(body) : body;
  const message = concatBytes([encoder.encode(`v0:${timestamp}:`), raw]);
  return `v0=${toHex(await hmacSha256(secret, message))}`;
}

/**
 * Whether a request really comes from Slack: a fresh timestamp (replays older than the window are
 * refused) and a signature compared in constant time.
 */
export async function verifySlackSignature(
  secret: string,
  timestamp: string | null,
  signature: string | null,
  body: Uint8Array,
  nowMs: number,
): Promise<"ok" | "missing" | "stale" | "mismatch"> {
  if (!timestamp || !signature) return "missing";
  if (!/^\d{1,12}$/.test(timestamp)) return "stale";
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > SLACK_SIGNATURE_WINDOW_S) return "stale";
  const expected = await slackSignature(secret, timestamp, body);
  return timingSafeEqual(signature, encoder.encode(expected)) ? "ok" : "mismatch";
}
