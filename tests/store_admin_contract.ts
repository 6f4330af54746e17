/**
 * The contract of the operator-facing `Store` methods (listMessages, retry, retryFailed,
 * queueStats, pause, subscriptions), for every backend: call {@linkcode storeAdminContract} from a
 * backend's test file with a function that opens an empty store.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  DELETED_DESTINATION_REASON,
  type DeliveryRecord,
  NOT_PAUSED,
  type Outcome,
  type Store,
  type SubscriptionRecord,
} from "../src/store/store.ts";

/** Stores a message for `destinations`, received at `at`. */
async function put(store: Store, msgId: string, at: number, destinations: string[], name = "Ev") {
  const res = await store.accept({
    msgId,
    receivedAt: at,
    name,
    body: new TextEncoder().encode(JSON.stringify({ msg_id: msgId })),
    destinations: destinations.map((id) => ({ id })),
    dedupeWindowMs: 0,
  });
  assert.equal(res.status, "created");
}

/** Leases the next due delivery to `destination`, which must be `msgId`'s, and records `state`. */
async function settle(
  store: Store,
  destination: string,
  msgId: string,
  now: number,
  state: Outcome["state"],
) {
  const [l] = await store.lease(destination, now, 1, 60_000);
  assert.equal(l?.delivery.msgId, msgId, `${msgId} → ${destination} is due next`);
  assert.ok(
    await store.complete(l, {
      state,
      at: now,
      latencyMs: 5,
      status: state === "sent" ? 200 : 500,
      reason: state,
      nextAttemptAt: now + 1000,
    }),
  );
}

/** Registers the contract's tests under `name`. */
export function storeAdminContract(name: string, open: () => Promise<Store>) {
  const test = (title: string, fn: (store: Store) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, async () => {
      const store = await open();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    });

  test("retry re-queues failed deliveries only, attempts reset, history kept", async (store) => {
    await put(store, "m1", 1000, ["a", "b", "c"]);
    await settle(store, "a", "m1", 1100, "permanent_failure");
    await settle(store, "b", "m1", 1100, "sent");
    await store.lease("c", 1100, 10, 60_000); // c stays leased: in flight
    const requeued = await store.retry("m1", undefined, 2000);
    assert.deepEqual(requeued.map((d) => d.destination), ["a"]);
    assert.equal(requeued[0].state, "pending");
    assert.equal(requeued[0].attempts, 0);
    assert.equal(requeued[0].history.length, 1);
    assert.match(requeued[0].statusReason ?? "", /retry requested.*permanent_failure/);
    assert.deepEqual(await store.retry("m1", undefined, 2001), [], "nothing left to retry");
    assert.deepEqual((await store.lease("a", 1999, 10, 60_000)).length, 0, "due at retry time");
    const [l] = await store.lease("a", 2000, 10, 60_000);
    assert.equal(l.delivery.msgId, "m1");
    assert.equal(l.expired, false);
    const states = (await store.getMessage("m1"))!.deliveries.map((d) => [d.destination, d.state]);
    assert.deepEqual(states, [["a", "leased"], ["b", "sent"], ["c", "leased"]]);
  });

  test("retry targets one destination; temporary failures are brought forward", async (store) => {
    await put(store, "m2", 1000, ["a", "b"]);
    await settle(store, "a", "m2", 1100, "temporary_failure");
    await settle(store, "b", "m2", 1100, "unknown");
    const onlyB = await store.retry("m2", "b", 1200);
    assert.deepEqual(onlyB.map((d) => d.destination), ["b"]);
    const a = await store.retry("m2", "a", 1200);
    assert.equal(a[0].nextAttemptAt, 1200);
    assert.equal((await store.lease("a", 1200, 10, 60_000)).length, 1);
    assert.equal((await store.lease("a", 5000, 10, 60_000)).length, 0, "no stale queue entry");
  });

  test("retryFailed re-queues every given-up delivery of a destination once", async (store) => {
    await put(store, "x1", 1000, ["a", "b"]);
    await put(store, "x2", 1001, ["a"]);
    await put(store, "x3", 1002, ["a"]);
    await settle(store, "a", "x1", 1100, "permanent_failure");
    await settle(store, "b", "x1", 1100, "permanent_failure");
    await settle(store, "a", "x2", 1100, "unknown");
    await settle(store, "a", "x3", 1100, "sent");
    assert.deepEqual((await store.retryFailed("a", 2000)).toSorted(), ["x1", "x2"]);
    assert.deepEqual(await store.retryFailed("a", 2001), []);
    assert.deepEqual(await store.retryFailed("b", 2001), ["x1"]);
    await settle(store, "a", "x1", 2100, "permanent_failure");
    await settle(store, "b", "x1", 2100, "sent");
    await settle(store, "a", "x2", 2100, "unknown");
    const seen: string[] = [];
    const skipX1 = (d: DeliveryRecord) => {
      seen.push(`${d.msgId}:${d.state}`);
      return Promise.resolve(d.msgId === "x1");
    };
    assert.deepEqual(await store.retryFailed("a", 2200, skipX1), ["x2"], "x1 is left as it is");
    assert.deepEqual(seen.toSorted(), ["x1:permanent_failure", "x2:unknown"]);
    assert.deepEqual(await store.retryFailed("a", 2201, skipX1), [], "and asked about again");
    const x1 = await store.getMessage("x1");
    assert.equal(x1?.deliveries.find((d) => d.destination === "a")?.state, "permanent_failure");
    await settle(store, "a", "x2", 2300, "unknown");
    assert.equal(await store.purge(5000), 3);
    assert.deepEqual(await store.retryFailed("a", 6000), [], "purge clears the failed index");
  });

  test("queueStats counts deliveries not yet final and the oldest receipt", async (store) => {
    assert.equal((await store.queueStats()).size, 0);
    await put(store, "q1", 1000, ["a"]);
    await put(store, "q2", 2000, ["a", "b"]);
    await settle(store, "b", "q2", 2100, "temporary_failure");
    let stats = await store.queueStats();
    assert.deepEqual(stats.get("a"), { depth: 2, oldestReceivedAt: 1000 });
    assert.deepEqual(stats.get("b"), { depth: 1, oldestReceivedAt: 2000 });
    await settle(store, "a", "q1", 2200, "sent");
    await store.lease("a", 2200, 10, 60_000); // leased still counts
    stats = await store.queueStats();
    assert.deepEqual(stats.get("a"), { depth: 1, oldestReceivedAt: 2000 });
    await settle(store, "b", "q2", 9000, "permanent_failure");
    assert.equal((await store.queueStats()).get("b"), undefined);
  });

  test("queueStats follows retry, purge and a state filter across many messages", async (store) => {
    for (let i = 0; i < 30; i++) await put(store, `s${i}`, 1000 + i, ["a"]);
    for (let i = 0; i < 10; i++) await settle(store, "a", `s${i}`, 1100, "permanent_failure");
    assert.deepEqual((await store.queueStats()).get("a"), { depth: 20, oldestReceivedAt: 1010 });
    assert.equal((await store.retryFailed("a", 2000)).length, 10);
    assert.deepEqual((await store.queueStats()).get("a"), { depth: 30, oldestReceivedAt: 1000 });
    await settle(store, "a", "s10", 2100, "sent");
    const sent = await store.listMessages({ state: "sent", destination: "a" }, { limit: 50 });
    assert.deepEqual(sent.items.map((m) => m.message.msgId), ["s10"]);
    assert.equal(
      (await store.listMessages({ state: "sent", destination: "b" }, { limit: 50 }))
        .items.length,
      0,
    );
    // Purge takes only messages whose deliveries are all final: s10…s24 once sent.
    for (let i = 11; i < 25; i++) await settle(store, "a", `s${i}`, 2100, "sent");
    assert.equal(await store.purge(3000), 15);
    assert.deepEqual((await store.queueStats()).get("a"), { depth: 15, oldestReceivedAt: 1000 });
    const pending = await store.listMessages({ state: "pending" }, { limit: 5 });
    assert.deepEqual(pending.items.map((m) => m.message.msgId), [
      "s29",
      "s28",
      "s27",
      "s26",
      "s25",
    ]);
  });

  test("listMessages: newest first, filters, stable cursor pages", async (store) => {
    for (let i = 0; i < 7; i++) {
      await put(store, `l${i}`, 1000 + i * 10, i % 2 ? ["a"] : ["a", "b"], i < 3 ? "Old" : "New");
    }
    await settle(store, "b", "l0", 2000, "sent");
    await settle(store, "b", "l2", 2000, "permanent_failure");
    const all = await store.listMessages({}, { limit: 100 });
    assert.deepEqual(all.items.map((m) => m.message.msgId), [
      "l6",
      "l5",
      "l4",
      "l3",
      "l2",
      "l1",
      "l0",
    ]);
    assert.equal(all.cursor, undefined);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listMessages({ destination: "b" }, { cursor, limit: 2 });
      pages.push(page.items.map((m) => m.message.msgId));
      cursor = page.cursor;
    } while (cursor);
    assert.deepEqual(pages.flat(), ["l6", "l4", "l2", "l0"]);
    const failed = await store.listMessages({ state: "permanent_failure" }, { limit: 10 });
    assert.deepEqual(failed.items.map((m) => m.message.msgId), ["l2"]);
    const failedOnA = await store.listMessages(
      { state: "permanent_failure", destination: "a" },
      { limit: 10 },
    );
    assert.deepEqual(failedOnA.items, []);
    const old = await store.listMessages({ name: " old " }, { limit: 10 });
    assert.deepEqual(old.items.map((m) => m.message.msgId), ["l2", "l1", "l0"]);
    const window = await store.listMessages({ since: 1010, until: 1040 }, { limit: 10 });
    assert.deepEqual(window.items.map((m) => m.message.msgId), ["l3", "l2", "l1"]);
    const page1 = await store.listMessages({ until: 1050 }, { limit: 2 });
    const page2 = await store.listMessages({ until: 1050 }, { limit: 2, cursor: page1.cursor });
    assert.deepEqual(page2.items.map((m) => m.message.msgId), ["l2", "l1"]);
  });

  test("pause switches: default off, global and per destination, no lost update", async (store) => {
    assert.deepEqual(await store.getPause(), NOT_PAUSED);
    await Promise.all([
      store.setPause("a", true, 10),
      store.setPause("b", true, 11),
      store.setPause(undefined, true, 12),
    ]);
    const p = await store.getPause();
    assert.equal(p.all, true);
    assert.deepEqual([...p.destinations].sort(), ["a", "b"]);
    const q = await store.setPause("a", false, 20);
    assert.deepEqual(q.destinations, ["b"]);
    assert.equal((await store.setPause(undefined, false, 21)).all, false);
    assert.deepEqual((await store.setPause("b", true, 22)).destinations, ["b"], "idempotent");
  });

  test("closeDeliveries: a deleted destination's open deliveries close and stay closed", async (store) => {
    for (const [i, id] of ["m1", "m2", "m3", "m4"].entries()) {
      await put(store, id, i + 1, id === "m1" ? ["gone", "kept"] : ["gone"]);
    }
    await settle(store, "gone", "m1", 10, "sent");
    await settle(store, "gone", "m2", 11, "temporary_failure");
    const [inFlight] = await store.lease("gone", 12, 1, 60_000);
    assert.equal(inFlight.delivery.msgId, "m3");

    assert.equal(await store.closeDeliveries("gone", 20), 3, "retrying, leased and pending");
    const state = async (msgId: string, destination = "gone") =>
      (await store.getMessage(msgId))!.deliveries.find((d) => d.destination === destination)!;
    assert.equal((await state("m1")).state, "sent", "finished deliveries stay as they were");
    assert.equal((await state("m1", "kept")).state, "pending", "other destinations are untouched");
    for (const msgId of ["m2", "m3", "m4"]) {
      const d = await state(msgId);
      assert.equal(d.state, "permanent_failure");
      assert.equal(d.statusReason, DELETED_DESTINATION_REASON);
      assert.equal(d.closedBy, "deletion", "a flag, not a wording");
      assert.equal(d.updatedAt, 20);
    }
    assert.deepEqual(await store.lease("gone", 1e12, 10, 60_000), []);
    const stats = await store.queueStats();
    assert.equal(stats.has("gone"), false);
    assert.equal(stats.get("kept")?.depth, 1);
    assert.equal(
      await store.complete(inFlight, { state: "temporary_failure", at: 21, latencyMs: 1 }),
      false,
      "a send in flight at the deletion does not reopen its delivery",
    );
    assert.deepEqual(await store.retry("m2", undefined, 30), []);
    assert.deepEqual(await store.retry("m3", "gone", 30), []);
    assert.deepEqual(await store.retryFailed("gone", 30), []);
    assert.equal(await store.closeDeliveries("gone", 40), 0);
  });

  test("destination health: disabled with reason and time, persisted; resume or clearing re-enables", async (store) => {
    const hold = { reason: "webhook answered HTTP 410 Gone", at: 10 };
    await store.setPause("px", true, 5);
    const marked = await store.setDisabled("gone", hold, 10);
    assert.deepEqual(marked.disabled, { gone: hold });
    assert.deepEqual(marked.destinations, ["px"], "pause switches are untouched");
    await store.setDisabled("other", { reason: "gone too", at: 11 }, 11);
    assert.deepEqual(Object.keys((await store.getPause()).disabled ?? {}).sort(), [
      "gone",
      "other",
    ]);
    const resumed = await store.setPause("gone", false, 12);
    assert.deepEqual(Object.keys(resumed.disabled ?? {}), ["other"], "resume re-enables");
    const cleared = await store.setDisabled("other", null, 13);
    assert.deepEqual(cleared.disabled, {});
    assert.deepEqual((await store.getPause()).destinations, ["px"]);
    assert.equal((await store.getPause()).updatedAt, 13);
  });

  test("a disabled destination's deliveries stay pending (held) and open, and are never purged", async (store) => {
    await put(store, "h1", 1000, ["gone"]);
    await store.setDisabled("gone", { reason: "410", at: 1001 }, 1001);
    assert.equal(await store.purge(1e12), 0);
    assert.equal((await store.getMessage("h1"))!.deliveries[0].state, "pending");
    assert.equal(await store.countOpen(1e12), 1);
  });

  test("subscriptions: put, get, list in creation order, delete", async (store) => {
    const sub = (id: string, createdAt: number): SubscriptionRecord => ({
      id,
      name: `sub ${id}`,
      type: "platformx",
      eventTypes: ["*"],
      configuration: { api_key: `key-${id}` },
      enabled: true,
      createdAt,
      updatedAt: createdAt,
    });
    assert.deepEqual(await store.listSubscriptions(), []);
    await store.putSubscription(sub("z", 1));
    await store.putSubscription(sub("a", 2));
    await store.putSubscription({ ...sub("z", 1), name: "renamed", updatedAt: 3 });
    assert.deepEqual((await store.listSubscriptions()).map((s) => s.id), ["z", "a"]);
    assert.equal((await store.getSubscription("z"))?.name, "renamed");
    assert.deepEqual((await store.getSubscription("a"))?.configuration, { api_key: "key-a" });
    assert.equal(await store.deleteSubscription("z"), true);
    assert.equal(await store.deleteSubscription("z"), false);
    assert.equal(await store.getSubscription("z"), null);
  });
}
