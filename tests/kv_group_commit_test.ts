import assert from "node:assert/strict";
import { createKvStore } from "../src/store/kv.ts";
import type { AcceptInput, AcceptResult } from "../src/store/store.ts";

/** A real in-memory KV whose atomic commits are counted. */
async function countingKv() {
  const kv = await Deno.openKv(":memory:");
  const counter = { commits: 0 };
  const atomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = atomic();
    const commit = op.commit.bind(op);
    op.commit = () => {
      counter.commits++;
      return commit();
    };
    return op;
  };
  return { kv, counter };
}

function input(msgId: string, eventKey: string = `event-${msgId}`): AcceptInput {
  return {
    msgId,
    receivedAt: Date.now(),
    name: "Workspace Created",
    body: new TextEncoder().encode(JSON.stringify({ msg_id: msgId })),
    destinations: [{ id: "platformx", eventKey }, { id: "log" }],
    dedupeWindowMs: 60_000,
  };
}

const states = (r: AcceptResult) =>
  r.status === "created" ? r.deliveries.map((d) => d.state).join(",") : r.status;

Deno.test("group commit: concurrent accepts share commits and each is stored", async () => {
  const { kv, counter } = await countingKv();
  const store = createKvStore(kv);
  try {
    const ids = Array.from({ length: 60 }, (_, i) => `m-${i}`);
    const results = await Promise.all(ids.map((id) => store.accept(input(id))));
    assert.deepEqual(new Set(results.map(states)), new Set(["pending,pending"]));
    assert.ok(counter.commits < ids.length / 4, `${counter.commits} commits for 60 messages`);
    for (const id of ids) {
      const m = await store.getMessage(id);
      assert.equal(m?.deliveries.length, 2, id);
      assert.deepEqual(await store.getBody(id), input(id).body);
    }
  } finally {
    await store.close();
  }
});

Deno.test("group commit: same msg_id or event key in one burst is still exactly once", async () => {
  const { kv } = await countingKv();
  const store = createKvStore(kv);
  // The first of a burst commits alone; the rest queue behind it and share the next commit.
  const burst = (...inputs: AcceptInput[]) =>
    Promise.all([input("first"), ...inputs].map((i) => store.accept(i))).then((r) => r.slice(1));
  try {
    const fanout = await burst(input("b", "shared"), input("c", "shared"), input("d"));
    assert.deepEqual(fanout.map(states), [
      "pending,pending",
      "deduplicated,pending",
      "pending,pending",
    ]);
    const retry = await burst(input("a"), input("a"), input("e"));
    assert.deepEqual(retry.map(states), ["pending,pending", "duplicate", "pending,pending"]);
    const platformx = [];
    for (const id of ["b", "c"]) {
      const m = await store.getMessage(id);
      platformx.push(m!.deliveries.find((d) => d.destination === "platformx")!.state);
    }
    assert.deepEqual(platformx, ["pending", "deduplicated"]);
  } finally {
    await store.close();
  }
});

Deno.test("group commit: a duplicate in a batch does not fail the others", async () => {
  const { kv } = await countingKv();
  const store = createKvStore(kv);
  try {
    assert.equal(states(await store.accept(input("old"))), "pending,pending");
    // Many at once, so that "old" lands in a batch with fresh messages and fails its check.
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => store.accept(input(`new-${i}`))),
      store.accept(input("old")),
      ...Array.from({ length: 10 }, (_, i) => store.accept(input(`new-${i + 10}`))),
    ]);
    assert.equal(states(results[10]), "duplicate");
    results.splice(10, 1);
    for (const r of results) assert.equal(states(r), "pending,pending");
    for (let i = 0; i < 20; i++) assert.ok(await store.getMessage(`new-${i}`));
  } finally {
    await store.close();
  }
});
