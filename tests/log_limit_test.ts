import assert from "node:assert/strict";
import { createLogLimiter, suppressedNote } from "../src/log_limit.ts";

Deno.test("log limiter: one line per key per interval, then the count suppressed", () => {
  let t = 0;
  const limiter = createLogLimiter(1000, () => t);
  assert.deepEqual(limiter.check("disk"), { emit: true, suppressed: 0 });
  for (let i = 0; i < 5; i++) assert.equal(limiter.check("disk").emit, false);
  assert.equal(limiter.check("auth").emit, true, "keys are independent");
  t = 999;
  assert.equal(limiter.check("disk").emit, false);
  t = 1000;
  assert.deepEqual(limiter.check("disk"), { emit: true, suppressed: 6 });
  assert.equal(suppressedNote(6), " (6 similar lines suppressed)");
  assert.equal(suppressedNote(0), "");
});
