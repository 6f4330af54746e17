/**
 * The statistics role's contract ({@linkcode StatsStore}), run by `storeContract` for every backend.
 *
 * @module
 */
import assert from "node:assert/strict";
import { LATENCY_BUCKETS_MS, latencyQuantile, STATS_RETENTION_MS } from "../src/store/stats.ts";
import type { StoreFixture } from "./store_contract.ts";

const T = 1_700_000_040_000; // a minute's start

type Test = (title: string, fn: (f: StoreFixture) => Promise<void>) => void;

/** Registers the statistics cases through the contract's `test`. */
export function statsContract(test: Test): void {
  test("stats: outcomes add up per minute, destination and latency bucket, across handles", async (f) => {
    const other = await f.another();
    await Promise.all([
      ...Array.from({ length: 5 }, () => f.store.recordOutcome("px", T + 1000, "sent", 40)),
      ...Array.from({ length: 5 }, () => other.recordOutcome("px", T + 2000, "sent", 40)),
      f.store.recordOutcome("px", T + 59_999, "failed", 20_000),
      f.store.recordOutcome("px", T + 60_000, "retried", 5),
      f.store.recordOutcome("slack", T, "sent", 60_000),
    ]);
    const rows = await f.store.minuteCounts(T);
    const get = (minute: number, destination: string, field: string) =>
      rows.find((r) => r.minute === minute && r.destination === destination && r.field === field)
        ?.count;
    assert.equal(get(T, "px", "sent"), 10, "concurrent counts are not lost");
    assert.equal(get(T, "px", "failed"), 1);
    assert.equal(get(T, "px", "l2"), 10); // 40 ms: the ≤ 50 ms bucket
    assert.equal(get(T, "px", "l10"), 1); // 20 s: the ≤ 30 s bucket
    assert.equal(get(T + 60_000, "px", "retried"), 1);
    assert.equal(get(T, "slack", `l${LATENCY_BUCKETS_MS.length}`), 1);
    assert.equal(rows.length, 8);
    // Only minutes at or after `since`.
    assert.deepEqual(
      (await f.store.minuteCounts(T + 60_000)).map((r) => `${r.minute} ${r.field}`).sort(),
      [`${T + 60_000} l0`, `${T + 60_000} retried`],
    );
  });

  test("stats: counters older than the retention are dropped as time passes", async ({ store }) => {
    await store.recordOutcome("px", T, "sent", 10);
    await store.recordOutcome("px", T + STATS_RETENTION_MS + 60_000, "sent", 10);
    const rows = await store.minuteCounts(0);
    assert.ok(rows.every((r) => r.minute > T), JSON.stringify(rows));
    assert.equal(rows.length, 2);
  });
}

Deno.test("latencyQuantile: bucket upper bounds, null without data", () => {
  assert.equal(latencyQuantile([0, 0, 0], 0.5), null);
  const b = LATENCY_BUCKETS_MS.map(() => 0).concat(0);
  b[2] = 98;
  b[6] = 2;
  assert.equal(latencyQuantile(b, 0.5), 50);
  assert.equal(latencyQuantile(b, 0.99), 1000);
});
