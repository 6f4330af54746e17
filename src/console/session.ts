/**
 * Console sessions without server state: a cookie `expiry.nonce.signature`, HMAC-signed with a key
 * derived from the admin token. It never holds the token, every replica sharing the token accepts
 * it, and changing the token ends every session. Each session has its own CSRF token, derived from
 * its nonce, that every form carries. Signing out revokes the session: its nonce is remembered until
 * the session would have expired, in this process only (each replica remembers its own sign-outs).
 *
 * @module
 */

/** The session cookie's name. */
export const COOKIE = "relay_console";
/** How long a sign-in lasts. */
export const SESSION_MS = 8 * 3600_000;
/**
 * Signed-out sessions remembered at most, past which the earliest signed out is forgotten (it
 * verifies again until it expires): bounded memory, unreachable in practice, as only a signed-in
 * operator can sign out.
 */
export const MAX_REVOKED = 10_000;

const encoder = new TextEncoder();

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Signs and checks sessions for one admin token. */
export interface Sessions {
  /** A new session's cookie value, valid until `now + SESSION_MS`. */
  issue(now: number): Promise<string>;
  /** The session's CSRF token, or undefined when the cookie is missing, forged or expired. */
  verify(cookie: string | undefined, now: number): Promise<string | undefined>;
  /** Ends a valid session for good (signing out): a copy of its cookie no longer verifies. */
  revoke(cookie: string | undefined, now: number): Promise<void>;
}

/** Sessions keyed to `token`; the key is derived, so a leaked cookie never reveals the token. */
export function createSessions(token: string): Sessions {
  const key = crypto.subtle.importKey(
    "raw",
    encoder.encode(`coder-relay console session\0${token}`),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = async (text: string) =>
    base64url(await crypto.subtle.sign("HMAC", await key, encoder.encode(text)));

  /** Revoked nonces and their sessions' expiry, in order of sign-out; expired ones are pruned. */
  const revoked = new Map<string, number>();
  /** The cookie's expiry and nonce when its signature is good and it has not expired. */
  const check = async (cookie: string | undefined, now: number) => {
    const parts = cookie?.split(".") ?? [];
    if (parts.length !== 3) return undefined;
    const [expiry, nonce, signature] = parts;
    const expected = await mac(`${expiry}.${nonce}`);
    if (!constantTimeEqual(signature, expected)) return undefined;
    if (!(Number(expiry) > now)) return undefined;
    return { expiry: Number(expiry), nonce };
  };

  return {
    async issue(now) {
      const nonce = base64url(crypto.getRandomValues(new Uint8Array(18)));
      const body = `${now + SESSION_MS}.${nonce}`;
      return `${body}.${await mac(body)}`;
    },
    async verify(cookie, now) {
      const session = await check(cookie, now);
      if (!session || revoked.has(session.nonce)) return undefined;
      return await mac(`csrf.${session.nonce}`);
    },
    async revoke(cookie, now) {
      const session = await check(cookie, now);
      if (!session) return;
      for (const [nonce, expiry] of revoked) {
        if (expiry > now && revoked.size < MAX_REVOKED) break;
        revoked.delete(nonce);
      }
      revoked.set(session.nonce, session.expiry);
    },
  };
}

function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a.charCodeAt(i) || 0) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The `Set-Cookie` value for a session (or, with `value` empty, one that ends it). */
export function sessionCookie(value: string, secure: boolean): string {
  const attrs = [
    `${COOKIE}=${value}`,
    "Path=/ui",
    "HttpOnly",
    "SameSite=Strict",
    value ? `Max-Age=${SESSION_MS / 1000}` : "Max-Age=0",
  ];
  if (secure) attrs.push("Secure");
  return attrs.join("; ");
}

/** The session cookie a request carries. */
export function cookieOf(req: Request): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === COOKIE) return rest.join("=");
  }
  return undefined;
}

/**
 * Whether a state-changing request comes from the console's own pages: its `Origin` names the
 * host the request was sent to. A form posted from another site fails this before any token check.
 */
export function sameOrigin(req: Request): boolean {
  const origin = req.headers.get("origin");
  if (!origin || origin === "null") return false;
  try {
    return new URL(origin).host === (req.headers.get("host") ?? new URL(req.url).host);
  } catch {
    return false;
  }
}

/** Whether the browser reached the relay over https (directly or through a proxy that says so). */
export function isHttps(req: Request): boolean {
  return new URL(req.url).protocol === "https:" ||
    req.headers.get("x-forwarded-proto")?.split(",")[0].trim() === "https";
}
