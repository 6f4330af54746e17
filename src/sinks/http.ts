/**
 * The one way sinks make HTTP requests: a timeout, a bounded response read, and failures sorted by
 * whether the request can have reached the destination. That distinction is what lets the relay
 * retry a refused connection freely yet never repeat an event PlatformX may already have counted.
 *
 * @module
 */
import type { SendResult } from "./sink.ts";
import { summarizeAnswer } from "../redact.ts";

/** Longest pause a `Retry-After` may impose; a larger value is treated as this. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * Parses `Retry-After` (delta seconds or an HTTP date) into milliseconds from `now`, capped at an
 * hour. Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(0, Math.round(ms)), MAX_RETRY_AFTER_MS);
}

/** `fetch` as injected into sinks, so tests and benchmarks can point them anywhere. */
export type Fetch = typeof fetch;

/** A response with its body already read (at most {@link MAX_RESPONSE_BYTES}). */
export interface HttpAnswer {
  readonly kind: "response";
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/**
 * A request that got no answer. `connect`: the request cannot have been received (refused, DNS);
 * `timeout` / `network`: it may have been. `invalid_request` (it could not be built, e.g. a header
 * value a message made invalid) and `blocked` (the address guard refused the destination's
 * address) were never sent: the message's own permanent failure, not a sign of an outage.
 */
export interface HttpFailure {
  readonly kind: "connect" | "timeout" | "network" | "invalid_request" | "blocked";
  readonly reason: string;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/** Sends a request and reads the answer, never throwing. */
export async function request(
  fetchFn: Fetch,
  url: string,
  init: RequestInit & { timeoutMs: number },
): Promise<HttpAnswer | HttpFailure> {
  const { timeoutMs, ...rest } = init;
  try {
    new Request(url, rest);
  } catch (err) {
    return { kind: "invalid_request", reason: `request not sent: ${shortError(String(err))}` };
  }
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetchFn(url, { ...rest, signal, redirect: "manual" });
    const text = await readText(res);
    return { kind: "response", status: res.status, headers: res.headers, text };
  } catch (err) {
    return classifyError(err, timeoutMs);
  }
}

/** Posts JSON; the usual case. */
export function postJson(
  fetchFn: Fetch,
  url: string,
  body: unknown,
  opts: { headers?: Record<string, string>; timeoutMs: number },
): Promise<HttpAnswer | HttpFailure> {
  return request(fetchFn, url, {
    method: "POST",
    headers: { "content-type": "application/json", ...opts.headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    timeoutMs: opts.timeoutMs,
  });
}

/**
 * The outcome of a request that got no answer: always retried when it cannot have arrived; when it
 * may have, retried only by destinations that dedupe, and `unknown` for the rest.
 */
export function failureResult(failure: HttpFailure, idempotent: boolean): SendResult {
  if (failure.kind === "invalid_request" || failure.kind === "blocked") {
    return { state: "permanent_failure", reason: failure.reason, notSent: true };
  }
  if (failure.kind === "connect" || idempotent) {
    return { state: "temporary_failure", reason: failure.reason };
  }
  return {
    state: "unknown",
    reason: `${failure.reason}; the request may have arrived, so it is not repeated`,
  };
}

/**
 * The generic reading of an HTTP status, for destinations without richer error bodies: 2xx sent;
 * 408/425/429/5xx retried (429 and 503 with their `Retry-After`); other statuses permanent.
 */
export function statusResult(answer: HttpAnswer, now: number, what = "destination"): SendResult {
  const { status } = answer;
  if (status >= 200 && status < 300) return { state: "sent", status };
  const detail = summarizeAnswer(answer.text);
  const reason = `${what} answered HTTP ${status}${detail ? `: ${detail}` : ""}`;
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    const retryAfterMs = status === 429 || status === 503
      ? parseRetryAfter(answer.headers.get("retry-after"), now)
      : undefined;
    return { state: "temporary_failure", reason, status, retryAfterMs };
  }
  return { state: "permanent_failure", reason, status };
}

async function readText(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_RESPONSE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const decoder = new TextDecoder();
  return chunks.map((c, i) => decoder.decode(c, { stream: i < chunks.length - 1 })).join("");
}

function classifyError(err: unknown, timeoutMs: number): HttpFailure {
  const e = err as Error;
  if (e?.name === "BlockedAddressError") {
    return { kind: "blocked", reason: `destination refused: ${e.message}` };
  }
  if (e?.name === "TypeError" && /failed to parse header|invalid header/i.test(e.message)) {
    return { kind: "invalid_request", reason: `request not sent: ${shortError(e.message)}` };
  }
  if (e?.name === "TimeoutError" || e?.name === "AbortError") {
    return { kind: "timeout", reason: `no answer within ${timeoutMs} ms` };
  }
  const message = `${e?.message ?? err} ${(e?.cause as Error | undefined)?.message ?? ""}`;
  if (
    /tcp connect error|connection refused|dns error|failed to lookup|no route to host|network is unreachable/i
      .test(message)
  ) {
    return { kind: "connect", reason: `could not connect: ${shortError(message)}` };
  }
  return { kind: "network", reason: `network error: ${shortError(message)}` };
}

function shortError(message: string): string {
  // Deno prefixes "error sending request for url (…):"; the URL may carry a token in its query.
  return summarizeAnswer(message.replace(/error sending request for url \([^)]*\):?/i, ""), 200);
}
