import assert from "node:assert/strict";
import { groupCommit } from "../src/store/group_commit.ts";

/** A flush that records its batches and resolves when told to. */
function recorder() {
  const batches: string[][] = [];
  const gates: (() => void)[] = [];
  const flush = async (items: string[]) => {
    batches.push(items);
    await new Promise<void>((r) => gates.push(r));
    if (items.includes("bad")) throw new Error("refused");
    return items.map((i) => i.toUpperCase());
  };
  const openAll = () => {
    for (const g of gates.splice(0)) g();
  };
  return { batches, flush, openAll };
}

const options = {
  maxBatch: 3,
  maxInFlight: 1,
  key: (s: string) => s.replace(/#.*/, ""),
  splittable: () => true,
};

Deno.test("group commit: an idle queue flushes at once; a busy one batches what waited", async () => {
  const r = recorder();
  const q = groupCommit(r.flush, options);
  const first = q.submit("a");
  assert.deepEqual(r.batches, [["a"]], "no waiting when nothing is in flight");
  const rest = ["b", "c", "d", "e"].map((i) => q.submit(i));
  assert.equal(r.batches.length, 1, "the rest waits for the slot");
  r.openAll();
  assert.equal(await first, "A");
  await new Promise((res) => setTimeout(res, 0));
  assert.deepEqual(r.batches[1], ["b", "c", "d"], "up to maxBatch per batch");
  r.openAll();
  await new Promise((res) => setTimeout(res, 0));
  assert.deepEqual(r.batches[2], ["e"]);
  r.openAll();
  assert.deepEqual(await Promise.all(rest), ["B", "C", "D", "E"]);
  await q.drain();
});

Deno.test("group commit: items with one key never share a batch", async () => {
  const r = recorder();
  const q = groupCommit(r.flush, { ...options, maxInFlight: 2 });
  const results = ["x#1", "x#2", "y", "x#3"].map((i) => q.submit(i));
  while (r.batches.flat().length < 4) {
    r.openAll();
    await new Promise((res) => setTimeout(res, 0));
  }
  r.openAll();
  assert.deepEqual(await Promise.all(results), ["X#1", "X#2", "Y", "X#3"]);
  for (const b of r.batches) {
    assert.equal(new Set(b.map(options.key)).size, b.length, JSON.stringify(r.batches));
  }
  await q.drain();
});

Deno.test("group commit: a batch stops at maxWeight, but one heavy item still goes alone", async () => {
  const r = recorder();
  const q = groupCommit(r.flush, {
    ...options,
    maxBatch: 10,
    weight: (s: string) => s.length,
    maxWeight: 4,
  });
  const results = ["first", "aa", "bb", "c", "heavyweight", "d"].map((i) => q.submit(i));
  while (r.batches.flat().length < 6) {
    r.openAll();
    await new Promise((res) => setTimeout(res, 0));
  }
  r.openAll();
  await Promise.all(results);
  assert.deepEqual(r.batches, [["first"], ["aa", "bb"], ["c", "d"], ["heavyweight"]]);
  await q.drain();
});

Deno.test("group commit: a failed batch is retried item by item; only the bad item fails", async () => {
  const r = recorder();
  const q = groupCommit(r.flush, options);
  const held = q.submit("first");
  const results = ["ok1", "bad", "ok2"].map((i) =>
    q.submit(i).then((v) => v, (e) => `error: ${e.message}`)
  );
  while (r.batches.flat().length < 7) {
    r.openAll();
    await new Promise((res) => setTimeout(res, 0));
  }
  r.openAll();
  assert.equal(await held, "FIRST");
  assert.deepEqual(await Promise.all(results), ["OK1", "error: refused", "OK2"]);
  await q.drain();
});

Deno.test("group commit: an error that splitting cannot fix fails the batch at once", async () => {
  let calls = 0;
  const q = groupCommit<string, string>(() => {
    calls++;
    return Promise.reject(new Error("database down"));
  }, { ...options, maxInFlight: 1, splittable: () => false });
  const blocker = q.submit("a").catch((e) => e.message);
  const batch = ["b", "c"].map((i) => q.submit(i).catch((e) => e.message));
  assert.deepEqual(await Promise.all([blocker, ...batch]), [
    "database down",
    "database down",
    "database down",
  ]);
  assert.equal(calls, 2);
  await q.drain();
});
