/**
 * The statistics role on Deno KV: the counters of `stats.ts` as `Deno.KvU64` values, added to
 * with atomic sums (no read, no conflict between replicas). Outcomes counted while a commit is
 * under way share the next one ({@link ./group_commit.ts}), one sum per counter, so counting costs
 * a drain one commit per batch, not one per delivery.
 *
 * @module
 */
import { groupCommit } from "./group_commit.ts";
import {
  fieldsOf,
  minuteOf,
  type StatCount,
  STATS_RETENTION_MS,
  type StatsStore,
} from "./stats.ts";

/** {@linkcode StatsStore} under `["st", minute, destination, field]`. */
export function kvStats(kv: Deno.Kv): StatsStore {
  let purgedAt = 0;
  async function purge(at: number) {
    if (at - purgedAt < 600_000) return;
    purgedAt = at;
    const old = kv.list({ prefix: ["st"], end: ["st", minuteOf(at - STATS_RETENTION_MS)] }, {
      limit: 5000,
    });
    let batch = kv.atomic();
    let n = 0;
    for await (const e of old) {
      batch.delete(e.key);
      if (++n % 500 === 0) {
        await batch.commit();
        batch = kv.atomic();
      }
    }
    await batch.commit();
  }
  let counted = 0;
  const counts = groupCommit<{ keys: Deno.KvKey[] }, void>(async (items) => {
    const sums = new Map<string, { key: Deno.KvKey; n: bigint }>();
    for (const key of items.flatMap((i) => i.keys)) {
      const k = JSON.stringify(key);
      const s = sums.get(k) ?? { key, n: 0n };
      s.n++;
      sums.set(k, s);
    }
    const op = kv.atomic();
    for (const { key, n } of sums.values()) op.sum(key, n);
    await op.commit();
    return items.map(() => undefined);
  }, {
    // Two counters each, under KV's 1,000 mutations a commit.
    maxBatch: 256,
    maxInFlight: 1,
    key: () => String(counted++),
    splittable: () => false,
  });
  return {
    async recordOutcome(destination, at, kind, latencyMs) {
      const minute = minuteOf(at);
      const [a, b] = fieldsOf(kind, latencyMs);
      await counts.submit({
        keys: [["st", minute, destination, a], ["st", minute, destination, b]],
      });
      await purge(at);
    },
    async minuteCounts(since) {
      const out: StatCount[] = [];
      for await (
        const e of kv.list<Deno.KvU64>({ prefix: ["st"], start: ["st", minuteOf(since)] })
      ) {
        const [, minute, destination, field] = e.key as [string, number, string, string];
        out.push({ minute, destination, field, count: Number(e.value.value) });
      }
      return out;
    },
  };
}
