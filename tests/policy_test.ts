import assert from "node:assert/strict";
import { createBreaker, OUTAGE_AFTER, OUTAGE_MAX_PAUSE_MS } from "../src/delivery/breaker.ts";
import { steadyClock } from "../src/delivery/clock.ts";
import { decide, healthSignal, type RetrySettings } from "../src/delivery/policy.ts";
import { allowance, burstOf, refill, spend, untilNextMs } from "../src/delivery/rate.ts";

const S: RetrySettings = { maxAttempts: 5, retryMinMs: 1000, retryMaxMs: 60_000 };
const AT = 1_700_000_000_000;
const top = () => 1;

Deno.test("policy: a temporary failure is retried after jittered exponential backoff", () => {
  const temp = { state: "temporary_failure", reason: "HTTP 503", status: 503 } as const;
  for (const [attempt, wait] of [[1, 1000], [2, 2000], [3, 4000]] as const) {
    const d = decide({ result: temp, attempt, at: AT, counts: true }, S, top);
    assert.deepEqual(d.outcome, {
      state: "temporary_failure",
      at: AT,
      status: 503,
      reason: "HTTP 503",
      nextAttemptAt: AT + wait,
    });
    assert.equal(d.disable, undefined);
  }
  const low = decide({ result: temp, attempt: 3, at: AT, counts: true }, S, () => 0);
  assert.equal(low.outcome.nextAttemptAt, AT + 2000, "never sooner than half the nominal delay");
  const capped = decide({ result: temp, attempt: 4, at: AT, counts: true }, {
    ...S,
    retryMaxMs: 3000,
  }, top);
  assert.equal(capped.outcome.nextAttemptAt, AT + 3000);
});

Deno.test("policy: Retry-After replaces backoff", () => {
  const d = decide(
    {
      result: { state: "temporary_failure", reason: "slow down", status: 429, retryAfterMs: 7000 },
      attempt: 1,
      at: AT,
      counts: true,
    },
    S,
    top,
  );
  assert.equal(d.outcome.nextAttemptAt, AT + 7000);
});

Deno.test("policy: the last allowed attempt gives up as permanent_failure, saying why", () => {
  const temp = { state: "temporary_failure", reason: "HTTP 500", status: 500 } as const;
  assert.equal(
    decide({ result: temp, attempt: 4, at: AT, counts: true }, S, top).outcome.state,
    "temporary_failure",
  );
  const d = decide({ result: temp, attempt: 5, at: AT, counts: true }, S, top);
  assert.deepEqual(d.outcome, {
    state: "permanent_failure",
    at: AT,
    status: 500,
    reason: "gave up after 5 attempts: HTTP 500",
  });
});

Deno.test("policy: sent, permanent and unknown are final as they are", () => {
  const sent = decide(
    { result: { state: "sent", status: 200, detail: "ok" }, attempt: 1, at: AT, counts: true },
    S,
    top,
  );
  assert.deepEqual(sent.outcome, {
    state: "sent",
    at: AT,
    status: 200,
    reason: "ok",
    counts: true,
  });
  const perm = decide(
    {
      result: { state: "permanent_failure", reason: "HTTP 400", status: 400 },
      attempt: 1,
      at: AT,
      counts: true,
    },
    S,
    top,
  );
  assert.equal(perm.outcome.state, "permanent_failure");
  assert.equal(perm.disable, undefined, "one bad message does not disable the destination");
  const unknown = decide(
    { result: { state: "unknown", reason: "interrupted" }, attempt: 0, at: AT, counts: false },
    S,
    top,
  );
  assert.deepEqual(unknown.outcome, {
    state: "unknown",
    at: AT,
    status: undefined,
    reason: "interrupted",
    counts: false,
  });
});

Deno.test("policy: 410 Gone fails the message and disables the destination, with the reason", () => {
  const d = decide(
    {
      result: { state: "permanent_failure", reason: "HTTP 410 Gone", status: 410, disable: true },
      attempt: 1,
      at: AT,
      counts: true,
    },
    S,
    top,
  );
  assert.equal(d.outcome.state, "permanent_failure");
  assert.equal(d.disable, "HTTP 410 Gone");
});

Deno.test("policy: a request never sent fails its message but says nothing about the destination", () => {
  const notSent = decide(
    {
      result: {
        state: "permanent_failure",
        reason: "request not sent: invalid header value",
        notSent: true,
      },
      attempt: 1,
      at: AT,
      counts: true,
    },
    S,
    top,
  );
  assert.equal(notSent.outcome.state, "permanent_failure");
  assert.equal(notSent.signal, "none", "a poison message must not count towards an outage");
  assert.equal(notSent.disable, undefined);
  assert.equal(healthSignal({ state: "permanent_failure", reason: "HTTP 400", status: 400 }), "up");
  assert.equal(healthSignal({ state: "temporary_failure", reason: "HTTP 503" }), "down");
  assert.equal(healthSignal({ state: "unknown", reason: "timeout" }), "none");
  assert.equal(healthSignal({ state: "sent", status: 200 }), "up");
  // Many in a row leave an outage count where it was: no pause, and the next failure does not trip.
  const b = createBreaker({ retryMinMs: 1000, retryMaxMs: 60_000 }, top);
  for (let i = 0; i < OUTAGE_AFTER - 1; i++) b.observe("px", "down", undefined, AT);
  for (let i = 0; i < 30; i++) {
    assert.equal(b.observe("px", notSent.signal, undefined, AT), undefined);
  }
  assert.ok(b.observe("px", "down", undefined, AT), "the count was neither reset nor raised");
});

Deno.test("breaker: pauses after failures in a row, growing, capped; any answer resets it", () => {
  const b = createBreaker(S, top);
  for (let i = 1; i < OUTAGE_AFTER; i++) {
    assert.equal(b.observe("px", "down", undefined, AT), undefined);
  }
  assert.deepEqual(b.observe("px", "down", undefined, AT), {
    kind: "outage",
    ms: 1000,
    failures: OUTAGE_AFTER,
  });
  assert.equal(b.isPaused("px", AT + 999), true);
  assert.equal(b.isPaused("slack", AT), false, "per destination");
  assert.equal(
    b.observe("px", "down", undefined, AT + 500),
    undefined,
    "one pause at a time",
  );
  assert.deepEqual(b.observe("px", "down", undefined, AT + 1000), {
    kind: "outage",
    ms: 4000,
    failures: 5,
  });
  for (let i = 0; i < 20; i++) b.observe("px", "down", undefined, AT + 1e6 * (i + 1));
  assert.ok(b.paused(AT + 2e7).get("px")! - (AT + 2e7) <= OUTAGE_MAX_PAUSE_MS);
  b.observe("px", "none", undefined, AT + 3e7);
  b.observe("px", "up", undefined, AT + 3e7);
  assert.equal(
    b.observe("px", "down", undefined, AT + 4e7),
    undefined,
    "reset by an answer",
  );
});

Deno.test("breaker: Retry-After pauses the destination for that long at once", () => {
  const b = createBreaker(S, top);
  assert.deepEqual(b.observe("px", "down", 5000, AT), {
    kind: "retry_after",
    ms: 5000,
  });
  assert.deepEqual([...b.paused(AT + 4999)], [["px", AT + 5000]]);
  assert.equal(b.paused(AT + 5000).size, 0);
});

Deno.test("steady clock: a wall clock stepping back does not stop time for the worker", () => {
  let wall = AT;
  let mono = 0;
  const c = steadyClock({ now: () => wall, elapsed: () => mono });
  assert.equal(c.now(), AT);
  wall -= 3_600_000;
  mono += 1500.75;
  assert.equal(c.now(), AT + 1500, "moves on with monotonic time, in whole milliseconds");
  wall = AT + 10_000;
  mono += 10;
  assert.equal(c.now(), AT + 10_000, "follows the wall clock forwards");
  const plain = { now: () => wall };
  assert.equal(steadyClock(plain), plain, "a clock without a monotonic source is used as it is");
});

Deno.test("policy: a destination's retry schedule replaces backoff and max attempts", () => {
  const temp = { state: "temporary_failure", reason: "HTTP 503", status: 503 } as const;
  const withSchedule = { ...S, retrySchedule: [500, 60_000] };
  const waits = [1, 2].map((attempt) =>
    decide({ result: temp, attempt, at: AT, counts: true }, withSchedule, top).outcome
      .nextAttemptAt! - AT
  );
  assert.deepEqual(waits, [500, 60_000], "no jitter: the delays as listed");
  const last = decide({ result: temp, attempt: 3, at: AT, counts: true }, withSchedule, top);
  assert.deepEqual(last.outcome, {
    state: "permanent_failure",
    at: AT,
    status: 503,
    reason: "gave up after 3 attempts: HTTP 503",
  }, "a schedule of two delays means three attempts, whatever maxAttempts says");
  const longer = { ...S, maxAttempts: 2, retrySchedule: [1, 1, 1, 1] };
  assert.equal(
    decide({ result: temp, attempt: 4, at: AT, counts: true }, longer, top).outcome.state,
    "temporary_failure",
    "the schedule, not maxAttempts, decides when to give up",
  );
  const asked = decide(
    { result: { ...temp, retryAfterMs: 9000 }, attempt: 1, at: AT, counts: true },
    withSchedule,
    top,
  );
  assert.equal(asked.outcome.nextAttemptAt, AT + 9000, "Retry-After still wins");
});

Deno.test("rate: a token bucket spreads sends at the limit, a tenth of a second's worth at once", () => {
  let b = refill(undefined, 5, AT);
  assert.equal(allowance(b), 1, "5/s: one send at a time");
  b = spend(b, 1);
  assert.equal(allowance(b), 0);
  assert.equal(untilNextMs(b, 5), 200);
  assert.equal(allowance(refill(b, 5, AT + 199)), 0);
  assert.equal(allowance(refill(b, 5, AT + 200)), 1);
  assert.equal(allowance(refill(b, 5, AT + 10_000)), 1, "idle time does not build a burst");
  const fast = refill(undefined, 200, AT);
  assert.equal(allowance(fast), 20, "200/s: 20 at once");
  assert.equal(untilNextMs(spend(fast, 20), 200), 5);
  assert.equal(burstOf(0.5), 1);
  const slow = spend(refill(undefined, 0.5, AT), 1);
  assert.equal(untilNextMs(slow, 0.5), 2000, "half a request per second: one every 2 s");
  assert.equal(allowance(refill(slow, 0.5, AT - 1000)), 0, "a clock going back refills nothing");
});
