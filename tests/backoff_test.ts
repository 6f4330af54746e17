import assert from "node:assert/strict";
import { backoffMs } from "../src/delivery/backoff.ts";
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from "../src/sinks/http.ts";

Deno.test("backoff doubles from the floor to the cap, jittered within [half, full]", () => {
  assert.equal(backoffMs(1, 1000, 60_000, () => 0), 500);
  assert.equal(backoffMs(1, 1000, 60_000, () => 1), 1000);
  assert.equal(backoffMs(3, 1000, 60_000, () => 1), 4000);
  assert.equal(backoffMs(30, 1000, 60_000, () => 1), 60_000);
  assert.equal(backoffMs(500, 1000, 60_000, () => 0.5), 45_000);
});

Deno.test("Retry-After: seconds or an HTTP date, capped, garbage ignored", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now), 10_000);
  assert.equal(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("999999", now), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});
