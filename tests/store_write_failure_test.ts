/** Issue 12 item 10: a store that cannot write makes /readyz say so; its ERROR line is rate-limited. */
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { openKvStore } from "../src/store/kv.ts";
import { type Store, StoreUnavailableError } from "../src/store/store.ts";
import { createWriteHealth } from "../src/http/write_health.ts";
import { golden, startRelay, testConfig } from "./helpers/stubs.ts";

Deno.test("a full disk: 503s, /readyz not ready, one ERROR line per second; ready again after a write", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { mem: (r) => records.push(r) },
    loggers: [{ category: ["coder-relay"], lowestLevel: "warning", sinks: ["mem"] }],
  });
  try {
    const real = await openKvStore(":memory:");
    let full = true;
    // Fault injection on a real store: accept fails as a full disk makes it fail.
    const store: Store = {
      ...real,
      accept: (input) =>
        full
          ? Promise.reject(new StoreUnavailableError("database or disk is full"))
          : real.accept(input),
    };
    await using relay = await startRelay(testConfig({ EVENTS_TRACKED: "*" }), { store });
    const ready = async () => {
      const res = await fetch(`${relay.url}/readyz`);
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await ready(), 200);
    for (let i = 0; i < 50; i++) {
      const msg = await golden("TemplateWorkspaceCreated.json");
      assert.equal((await relay.post(msg)).status, 503);
    }
    assert.equal(await ready(), 503);
    const errors = records.filter((r) => r.level === "error");
    // (At most one: the limiter is per process, and another test may have used this second.)
    assert.ok(errors.length <= 1, `at most one ERROR line for 50 failures, got ${errors.length}`);
    full = false;
    assert.equal((await relay.post(await golden("TemplateWorkspaceCreated.json"))).status, 202);
    assert.equal(await ready(), 200);
  } finally {
    await reset();
  }
});

Deno.test("write health: a failure counts until a success or the window passes", () => {
  let t = 0;
  const h = createWriteHealth(1000, () => t);
  assert.equal(h.problem(), undefined);
  h.failed();
  assert.match(h.problem() ?? "", /failed/);
  t = 1001;
  assert.equal(h.problem(), undefined);
  h.failed();
  h.succeeded();
  assert.equal(h.problem(), undefined);
});
