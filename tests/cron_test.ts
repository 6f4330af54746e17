import assert from "node:assert/strict";
import { cronAvailable, runCronDrain, setCronDrain } from "../src/cron.ts";

Deno.test("cron: absent without --unstable-cron; a run drains once the relay serves", async () => {
  // The test runner is started without --unstable-cron, as the relay is: nothing is registered.
  assert.equal(cronAvailable, false);
  assert.equal(await runCronDrain(10), false, "no relay serving yet: nothing to drain");
  let drained = 0;
  setCronDrain(() => {
    drained++;
    return Promise.resolve();
  });
  assert.equal(await runCronDrain(10), true);
  assert.equal(drained, 1);
  setCronDrain(undefined);
  assert.equal(await runCronDrain(10), false, "after shutdown the job does nothing");
  assert.equal(drained, 1);
});
