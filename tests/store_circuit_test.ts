import assert from "node:assert/strict";
import { withCircuitBreaker } from "../src/store/circuit.ts";
import { openKvStore } from "../src/store/kv.ts";
import { type Store, StoreUnavailableError } from "../src/store/store.ts";

Deno.test("circuit breaker: after a slow failure, calls fail fast until the cooldown, then probe", async () => {
  let t = 0;
  let down = true;
  let slowCalls = 0;
  const real = await openKvStore(":memory:");
  // Fault injection on a real store: ping hangs 300 ms then fails, as a dead database does.
  const faulty: Store = {
    ...real,
    close: () => real.close(),
    ping: async () => {
      if (!down) return await real.ping();
      slowCalls++;
      await new Promise((r) => setTimeout(r, 300));
      throw new StoreUnavailableError("connect timeout");
    },
  };
  const store = withCircuitBreaker(faulty, 2000, () => t);
  try {
    await assert.rejects(store.ping(), StoreUnavailableError);
    const started = performance.now();
    for (let i = 0; i < 20; i++) await assert.rejects(store.ping(), /recent failure: connect/);
    assert.ok(performance.now() - started < 100, "fast while open");
    assert.equal(slowCalls, 1);
    t = 2001;
    down = false;
    await store.ping();
    await store.ping();
  } finally {
    await store.close();
  }
});
