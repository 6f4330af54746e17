import assert from "node:assert/strict";
import { createLeaseAhead, roundsAhead } from "../src/delivery/lease_ahead.ts";
import { openKvStore } from "../src/store/kv.ts";
import type { Store } from "../src/store/store.ts";

Deno.test("roundsAhead: as many rounds as a lease outlasts, none when it outlasts one send", () => {
  assert.equal(roundsAhead(60_000, 10_000), 4);
  assert.equal(roundsAhead(60_000, 1_000), 8, "capped");
  assert.equal(roundsAhead(20_000, 10_000), 0);
  assert.equal(roundsAhead(11_000, 10_000), 0);
});

Deno.test("lease ahead: one store lease serves several sends; held leases go back unsent", async () => {
  const store = await openKvStore(":memory:");
  try {
    const body = new TextEncoder().encode("{}");
    for (let i = 0; i < 10; i++) {
      await store.accept({
        msgId: `m${i}`,
        receivedAt: 1000 + i,
        name: "Workspace Created",
        body,
        destinations: [{ id: "a" }],
        dedupeWindowMs: 0,
      });
    }
    let leaseCalls = 0;
    const counted: Store = {
      ...store,
      lease: (...args) => {
        leaseCalls++;
        return store.lease(...args);
      },
    };
    const ahead = createLeaseAhead(counted, {
      leaseMs: 60_000,
      sendTimeoutMs: 1000,
      concurrency: 2,
      rounds: 2,
    });
    const taken = [
      ...await ahead.take("a", 2, 2000),
      ...await ahead.take("a", 1, 2001),
      ...await ahead.take("a", 2, 2002),
    ];
    assert.deepEqual(taken.map((l) => l.delivery.msgId), ["m0", "m1", "m2", "m3", "m4"]);
    // 2 slots, 2 rounds ahead: one lease of 6 served all three; with one left, the next batch is
    // leased in the background while it is sent.
    assert.equal(leaseCalls, 2);
    await ahead.release("a", 3000);
    const m5 = (await store.getMessage("m5"))!.deliveries[0];
    assert.equal(m5.state, "pending", "the held lease went back");
    assert.equal((await store.getMessage("m4"))!.deliveries[0].state, "leased", "handed out: kept");
    // Close to expiry, a held lease is given back instead of handed out.
    await ahead.take("a", 1, 4000);
    const later = await ahead.take("a", 1, 4000 + 60_000 - 1500);
    assert.ok(later.every((l) => l.delivery.nextAttemptAt - (4000 + 60_000 - 1500) > 2000));
    await ahead.release(undefined, 70_000);
  } finally {
    await store.close();
  }
});
