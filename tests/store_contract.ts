/**
 * The `Store` contract, as tests any backend must pass. `tests/store_kv_test.ts` and
 * `tests/store_postgres_test.ts` register it for their backends, so both are held to the very same
 * cases. Times are fixed numbers: the store takes time as arguments and never reads a clock.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type AcceptInput, HISTORY_LIMIT, type Lease, type Store } from "../src/store/store.ts";
import { statsContract } from "./stats_contract.ts";

/** An empty store for one test, plus more handles on the same data (as more replicas hold). */
export interface StoreFixture extends AsyncDisposable {
  readonly store: Store;
  /** Another handle on the same data; a backend without one (`:memory:`) returns `store`. */
  another(): Promise<Store>;
}

const T = 1_700_000_000_000;
const WINDOW = 10_000;
const LEASE = 60_000;

/** A message for `destinations` (ids; `id!key` gives the destination a fan-out event key). */
function input(
  msgId: string,
  receivedAt = T,
  destinations: string[] = ["px"],
  body: Uint8Array = new TextEncoder().encode(`{"msg_id":"${msgId}"}`),
): AcceptInput {
  return {
    msgId,
    receivedAt,
    name: "Workspace Created",
    body,
    destinations: destinations.map((d) => {
      const [id, eventKey] = d.split("!");
      return { id, eventKey };
    }),
    dedupeWindowMs: WINDOW,
  };
}

async function stateOf(store: Store, msgId: string, destination = "px") {
  const m = await store.getMessage(msgId);
  return m?.deliveries.find((d) => d.destination === destination);
}

function ids(leases: readonly Lease[]): string[] {
  return leases.map((l) => l.delivery.msgId).sort();
}

/** Registers the contract's cases as `Deno.test`s named `<name>: …`. */
export function storeContract(name: string, open: () => Promise<StoreFixture>): void {
  const test = (title: string, fn: (f: StoreFixture) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, async () => {
      await using f = await open();
      await fn(f);
    });

  test("accept stores once; the same msg_id again is a duplicate that changes nothing", async ({ store }) => {
    const first = await store.accept(input("m1", T, ["a", "b"]));
    assert.equal(first.status, "created");
    assert.deepEqual(
      first.status === "created" && first.deliveries.map((d) => [d.destination, d.state]),
      [["a", "pending"], ["b", "pending"]],
    );
    const again = await store.accept(
      input("m1", T + 5000, ["a", "b", "c"], new TextEncoder().encode("other")),
    );
    assert.deepEqual(again, { status: "duplicate", receivedAt: T });
    const m = await store.getMessage("m1");
    assert.equal(m?.deliveries.length, 2);
    assert.equal(new TextDecoder().decode((await store.getBody("m1"))!), '{"msg_id":"m1"}');
  });

  test("concurrent receipts of one msg_id on two handles: exactly one is created", async (f) => {
    const other = await f.another();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? other : f.store).accept(input("same", T + i))),
    );
    assert.equal(results.filter((r) => r.status === "created").length, 1);
    assert.equal(results.filter((r) => r.status === "duplicate").length, 5);
    assert.equal((await f.store.getMessage("same"))?.deliveries.length, 1);
  });

  test("fan-out copies within the window are deduplicated, per destination", async ({ store }) => {
    await store.accept(input("a", T, ["px!k1", "hook"]));
    const copy = await store.accept(input("b", T + WINDOW - 1, ["px!k1", "hook"]));
    assert.ok(copy.status === "created");
    const [px, hook] = copy.deliveries;
    assert.equal(px.state, "deduplicated");
    assert.match(px.statusReason ?? "", /same event as message a/);
    assert.equal(hook.state, "pending", "a destination without an event key gets every copy");
    assert.equal((await stateOf(store, "b"))?.state, "deduplicated");
    const other = await store.accept(input("c", T + 1, ["px!k2"]));
    assert.ok(other.status === "created" && other.deliveries[0].state === "pending");
    // A deduplicated delivery is final: never leased.
    assert.deepEqual(ids(await store.lease("px", T + WINDOW, 10, LEASE)), ["a", "c"]);
  });

  test("after the window the same event key is delivered again and owns a new window", async ({ store }) => {
    await store.accept(input("a", T, ["px!k"]));
    const later = await store.accept(input("b", T + WINDOW, ["px!k"]));
    assert.ok(later.status === "created" && later.deliveries[0].state === "pending");
    const copy = await store.accept(input("c", T + WINDOW + 5, ["px!k"]));
    assert.ok(copy.status === "created");
    assert.equal(copy.deliveries[0].state, "deduplicated");
    assert.match(copy.deliveries[0].statusReason ?? "", /message b/);
  });

  test("a zero dedupe window turns fan-out dedupe off", async ({ store }) => {
    await store.accept({ ...input("a", T, ["px!k"]), dedupeWindowMs: 0 });
    const b = await store.accept({ ...input("b", T + 1, ["px!k"]), dedupeWindowMs: 0 });
    assert.ok(b.status === "created" && b.deliveries[0].state === "pending");
  });

  test("concurrent copies of one event on two handles: exactly one is delivered", async (f) => {
    const other = await f.another();
    const results = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) => (i % 2 ? other : f.store).accept(input(`copy-${i}`, T + i, ["px!k", "hook"])),
      ),
    );
    const px = results.map((r) => r.status === "created" ? r.deliveries[0].state : r.status);
    assert.equal(px.filter((s) => s === "pending").length, 1, px.join(","));
    assert.equal(px.filter((s) => s === "deduplicated").length, 9, px.join(","));
    assert.equal((await f.store.lease("hook", T + 100, 100, LEASE)).length, 10);
  });

  test("deliveries to different destinations are independent", async ({ store }) => {
    await store.accept(input("m", T, ["a", "b"]));
    const [la] = await store.lease("a", T, 10, LEASE);
    assert.equal(la.delivery.destination, "a");
    assert.ok(await store.complete(la, { state: "permanent_failure", at: T + 1, latencyMs: 3 }));
    assert.equal((await stateOf(store, "m", "a"))?.state, "permanent_failure");
    assert.equal((await stateOf(store, "m", "b"))?.state, "pending");
    const [lb] = await store.lease("b", T + 2, 10, LEASE);
    assert.equal(lb.delivery.destination, "b");
    assert.ok(await store.complete(lb, { state: "sent", at: T + 3, latencyMs: 1, status: 200 }));
    assert.equal((await stateOf(store, "m", "b"))?.state, "sent");
    assert.equal((await store.lease("a", T + LEASE * 2, 10, LEASE)).length, 0);
  });

  test("lease hands out only due deliveries, oldest first, at most `limit`", async ({ store }) => {
    await store.accept(input("m0", T));
    await store.accept(input("m1", T + 100));
    await store.accept(input("m2", T + 200));
    assert.deepEqual(await store.lease("px", T - 1, 10, LEASE), []);
    assert.deepEqual(await store.lease("px", T + 100, 0, LEASE), []);
    const [first, ...none] = await store.lease("px", T + 100, 1, LEASE);
    assert.deepEqual(none, []);
    assert.equal(first.delivery.msgId, "m0");
    assert.equal(first.delivery.state, "leased");
    assert.equal(first.delivery.nextAttemptAt, T + 100 + LEASE);
    assert.equal(first.expired, false);
    assert.deepEqual(ids(await store.lease("px", T + 100, 10, LEASE)), ["m1"]);
    assert.deepEqual(await store.lease("px", T + 100, 10, LEASE), []);
    assert.deepEqual(ids(await store.lease("px", T + 200, 10, LEASE)), ["m2"]);
    assert.deepEqual(await store.lease("other", T + 200, 10, LEASE), []);
  });

  test("an expired lease is handed out again, marked expired; the old token is dead", async ({ store }) => {
    await store.accept(input("m", T));
    const [old] = await store.lease("px", T, 10, 1000);
    assert.deepEqual(await store.lease("px", T + 999, 10, 1000), []);
    const [again] = await store.lease("px", T + 1000, 10, 1000);
    assert.equal(again.delivery.msgId, "m");
    assert.equal(again.expired, true);
    assert.notEqual(again.token, old.token);
    assert.equal(await store.complete(old, { state: "sent", at: T + 1001, latencyMs: 1 }), false);
    assert.equal((await stateOf(store, "m"))?.state, "leased");
    const unknown = {
      state: "unknown",
      at: T + 1002,
      latencyMs: 0,
      reason: "interrupted",
      counts: false,
    } as const;
    assert.equal(await store.complete(again, unknown), true);
    const d = await stateOf(store, "m");
    assert.equal(d?.state, "unknown");
    assert.equal(d?.attempts, 0, "an attempt that never started does not count");
    assert.equal(d?.statusReason, "interrupted");
  });

  test("complete works once per lease: a second complete with the same token is refused", async ({ store }) => {
    await store.accept(input("m", T));
    const [l] = await store.lease("px", T, 10, LEASE);
    assert.equal(await store.complete(l, { state: "sent", at: T + 1, latencyMs: 4 }), true);
    assert.equal(
      await store.complete(l, { state: "permanent_failure", at: T + 2, latencyMs: 4 }),
      false,
    );
    const d = await stateOf(store, "m");
    assert.equal(d?.state, "sent");
    assert.equal(d?.attempts, 1);
    assert.equal(d?.updatedAt, T + 1);
  });

  test("temporary_failure reschedules at nextAttemptAt and keeps its history", async ({ store }) => {
    await store.accept(input("m", T));
    const [l] = await store.lease("px", T, 10, LEASE);
    assert.ok(
      await store.complete(l, {
        state: "temporary_failure",
        at: T + 10,
        latencyMs: 7,
        status: 503,
        reason: "HTTP 503",
        nextAttemptAt: T + 5000,
      }),
    );
    const d = await stateOf(store, "m");
    assert.equal(d?.state, "temporary_failure");
    assert.equal(d?.attempts, 1);
    assert.equal(d?.nextAttemptAt, T + 5000);
    assert.equal(d?.statusReason, "HTTP 503");
    assert.deepEqual(d?.history, [{
      at: T + 10,
      state: "temporary_failure",
      latencyMs: 7,
      status: 503,
      reason: "HTTP 503",
    }]);
    assert.deepEqual(await store.lease("px", T + 4999, 10, LEASE), []);
    const [again] = await store.lease("px", T + 5000, 10, LEASE);
    assert.equal(again.expired, false);
    assert.equal(again.delivery.attempts, 1);
    assert.deepEqual(again.delivery.history, d?.history);
  });

  test("history keeps the newest attempts only", async ({ store }) => {
    await store.accept(input("m", T));
    const tries = HISTORY_LIMIT + 2;
    for (let i = 1; i <= tries; i++) {
      const [l] = await store.lease("px", T + i * 1000, 1, 500);
      assert.ok(l, `lease ${i}`);
      await store.complete(l, {
        state: "temporary_failure",
        at: T + i * 1000,
        latencyMs: i,
        status: 500,
        reason: `try ${i}`,
        nextAttemptAt: T + (i + 1) * 1000,
      });
    }
    const d = await stateOf(store, "m");
    assert.equal(d?.attempts, tries);
    assert.equal(d?.history.length, HISTORY_LIMIT);
    assert.equal(d?.history[0].reason, "try 3");
    assert.equal(d?.history[HISTORY_LIMIT - 1].reason, `try ${tries}`);
  });

  test("getBody returns the exact bytes, a ~700 KiB body included", async ({ store }) => {
    const big = new Uint8Array(700 * 1024);
    for (let i = 0; i < big.length; i += 65_536) {
      crypto.getRandomValues(big.subarray(i, i + 65_536));
    }
    await store.accept(input("big", T, ["px"], big));
    const back = await store.getBody("big");
    assert.ok(back instanceof Uint8Array);
    assert.equal(back.byteLength, big.byteLength);
    assert.deepEqual(back, big);
    assert.equal((await store.getMessage("big"))?.message.size, big.byteLength);
    assert.equal(await store.getBody("missing"), null);
  });

  test("getMessage returns the message and every delivery, in destination order", async ({ store }) => {
    const created = await store.accept(input("m", T, ["zeta", "alpha!k", "mid"]));
    const m = await store.getMessage("m");
    assert.ok(m);
    assert.deepEqual(m.message, {
      msgId: "m",
      receivedAt: T,
      name: "Workspace Created",
      size: '{"msg_id":"m"}'.length,
    });
    assert.deepEqual(m.deliveries.map((d) => d.destination), ["alpha", "mid", "zeta"]);
    assert.ok(created.status === "created");
    for (const d of m.deliveries) {
      assert.deepEqual(d, created.deliveries.find((c) => c.destination === d.destination));
    }
    const [l] = await store.lease("mid", T, 1, LEASE);
    assert.deepEqual(await stateOf(store, "m", "mid"), l.delivery);
    assert.equal(await store.getMessage("missing"), null);
  });

  test("purge removes messages finished before the cut-off, with everything they own; never unfinished ones", async ({ store }) => {
    await store.accept(input("done", T, ["px!k1"]));
    await store.accept(input("open", T + 10, ["px"]));
    await store.accept(input("late", T + 15, ["px"]));
    await store.accept(input("new", T + 20, ["px"]));
    const leases = await store.lease("px", T + 20, 10, LEASE);
    const by = (id: string) => leases.find((l) => l.delivery.msgId === id)!;
    const sent = (id: string, at: number) =>
      store.complete(by(id), { state: "sent", at, latencyMs: 1 });
    assert.ok(await sent("done", T + 11));
    assert.ok(await sent("late", T + 30), "finished after the cut-off");
    assert.ok(await sent("new", T + 21));
    assert.equal(await store.purge(T + 20), 1);
    assert.equal(await store.getMessage("done"), null);
    assert.equal(await store.getBody("done"), null);
    assert.ok(await store.getMessage("late"), "retention counts from when it finished");
    assert.equal(await store.countOpen(T + 1e9), 1);
    assert.equal(await store.countOpen(T + 10), 0, "received at the cut-off is not before it");

    assert.equal(await store.purge(T + 1e9), 2, "every finished message, however old the cut-off");
    assert.ok(await store.getMessage("open"), "an unfinished message is never purged");
    assert.ok(await store.getBody("open"));
    assert.ok(await sent("open", T + 40), "its lease still holds");
    assert.equal(await store.countOpen(T + 1e9), 0);
    assert.equal(await store.purge(T + 1e9), 1);
    assert.equal(await store.purge(T + 1e9), 0);
  });

  test("ping answers", async ({ store }) => {
    await store.ping();
  });

  test("concurrent leases from two handles never hand out a delivery twice", async (f) => {
    const other = await f.another();
    const n = 120;
    for (let i = 0; i < n; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, j) => f.store.accept(input(`m${i + j}`, T + i + j))),
      );
    }
    const seen: string[] = [];
    for (let round = 0; round < 100 && seen.length < n; round++) {
      const got = await Promise.all([
        f.store.lease("px", T + n, 7, LEASE),
        other.lease("px", T + n, 7, LEASE),
        f.store.lease("px", T + n, 5, LEASE),
        other.lease("px", T + n, 5, LEASE),
      ]);
      for (const leases of got) seen.push(...leases.map((l) => l.delivery.msgId));
    }
    assert.equal(seen.length, n);
    assert.equal(new Set(seen).size, n, "a delivery was leased twice");
  });
  test("release gives unsent leases back as they were; a lease no longer held is left alone", async ({ store }) => {
    for (let i = 0; i < 3; i++) await store.accept(input(`r${i}`, T + i));
    const [first] = await store.lease("px", T + 10, 1, LEASE);
    assert.ok(
      await store.complete(first, {
        state: "temporary_failure",
        at: T + 20,
        latencyMs: 1,
        nextAttemptAt: T + 30,
      }),
    );
    const leases = await store.lease("px", T + 40, 10, LEASE);
    assert.deepEqual(ids(leases), ["r0", "r1", "r2"]);
    const done = leases.find((l) => l.delivery.msgId === "r2")!;
    assert.ok(await store.complete(done, { state: "sent", at: T + 50, latencyMs: 1 }));
    assert.equal(await store.release(leases, T + 60), 2);
    const r0 = await stateOf(store, "r0");
    assert.equal(r0?.state, "temporary_failure", "back to the state before the lease");
    assert.equal(r0?.attempts, 1);
    assert.equal(r0?.history.length, 1, "no attempt recorded");
    assert.equal((await stateOf(store, "r1"))?.state, "pending");
    assert.equal((await stateOf(store, "r2"))?.state, "sent", "a completed lease stays completed");
    const again = await store.lease("px", T + 60, 10, LEASE);
    assert.deepEqual(ids(again), ["r0", "r1"]);
    assert.ok(again.every((l) => !l.expired), "a released lease is not an interrupted send");
    assert.equal(await store.release(leases, T + 70), 0, "stale leases release nothing");
  });

  test("a burst of fan-out copies on one handle: one delivered, every other names it", async ({ store }) => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => store.accept(input(`burst-${i}`, T + i, ["px!k"]))),
    );
    const states = results.map((r) => r.status === "created" ? r.deliveries[0] : undefined);
    const owners = states.filter((d) => d?.state === "pending");
    assert.equal(owners.length, 1, states.map((d) => d?.state).join(","));
    const owner = owners[0]!.msgId;
    for (const d of states) {
      if (d?.msgId !== owner) assert.match(d?.statusReason ?? "", new RegExp(`message ${owner}`));
    }
    assert.deepEqual(ids(await store.lease("px", T + 100, 100, LEASE)), [owner]);
    // Copies after the window claim a new one, even right behind a burst.
    const later = await store.accept(input("burst-late", T + WINDOW + 50, ["px!k"]));
    assert.ok(later.status === "created" && later.deliveries[0].state === "pending");
  });

  test("outcomes recorded together: each applies, a stale lease alone is refused", async (f) => {
    for (let i = 0; i < 30; i++) await f.store.accept(input(`c${i}`, T + i));
    const leases = await f.store.lease("px", T + 100, 30, LEASE);
    assert.equal(leases.length, 30);
    // An operator retry of one leased delivery is not possible, so make one lease stale the way a
    // second worker does after expiry: lease it again.
    const [stale] = await f.store.lease("px", T + 100 + LEASE, 1, LEASE);
    assert.ok(stale);
    const ok = await Promise.all(
      leases.map((l, i) =>
        f.store.complete(l, {
          state: i % 2 ? "sent" : "temporary_failure",
          at: T + 200,
          latencyMs: 1,
          nextAttemptAt: T + 5000,
        })
      ),
    );
    const staleIndex = leases.findIndex((l) => l.delivery.msgId === stale.delivery.msgId);
    ok.forEach((v, i) => assert.equal(v, i !== staleIndex, `complete ${i}`));
    for (let i = 0; i < 30; i++) {
      const d = await stateOf(f.store, leases[i].delivery.msgId);
      if (i === staleIndex) assert.equal(d?.state, "leased");
      else assert.equal(d?.state, i % 2 ? "sent" : "temporary_failure");
    }
    assert.equal(
      (await f.store.lease("px", T + 5000, 100, LEASE)).length,
      leases.filter((_, i) => i % 2 === 0 && i !== staleIndex).length,
    );
  });
  statsContract(test);
}

/** Stores a message with `first`, closes it, and checks that the store `reopen` returns has it all. */
export async function checkReopen(first: Store, reopen: () => Promise<Store>): Promise<void> {
  const body = new TextEncoder().encode('{"msg_id":"kept"}');
  try {
    await first.accept({ ...input("kept", T), body });
  } finally {
    await first.close();
  }
  const again = await reopen();
  try {
    assert.deepEqual(await again.getBody("kept"), body);
    const [l] = await again.lease("px", T, 10, LEASE);
    assert.equal(l.delivery.msgId, "kept");
    assert.ok(await again.complete(l, { state: "sent", at: T + 1, latencyMs: 1 }));
    assert.equal((await stateOf(again, "kept"))?.state, "sent");
  } finally {
    await again.close();
  }
}
