/**
 * The statistics role on Deno KV: the counters of `stats.ts` as `Deno.KvU64` values, added to
 * with atomic sums (no read, no conflict between replicas).
 *
 * @module
 */
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
  return {
    async recordOutcome(destination, at, kind, latencyMs) {
      const minute = minuteOf(at);
      const [a, b] = fieldsOf(kind, latencyMs);
      await kv.atomic()
        .sum(["st", minute, destination, a], 1n)
        .sum(["st", minute, destination, b], 1n)
        .commit();
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
