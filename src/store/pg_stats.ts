/**
 * The statistics role on PostgreSQL: the counters of `stats.ts` as rows of `relay_stats`, added
 * to with one upsert per attempt.
 *
 * @module
 */
import type { Sql } from "postgres";
import { fieldsOf, minuteOf, STATS_RETENTION_MS, type StatsStore } from "./stats.ts";

/** {@linkcode StatsStore} over a migrated database. */
export function pgStats(sql: Sql): StatsStore {
  let purgedAt = 0;
  return {
    async recordOutcome(destination, at, kind, latencyMs) {
      const minute = minuteOf(at);
      const [a, b] = fieldsOf(kind, latencyMs);
      await sql`
        INSERT INTO relay_stats (minute, destination, field, n)
        VALUES (${minute}, ${destination}, ${a}, 1), (${minute}, ${destination}, ${b}, 1)
        ON CONFLICT (minute, destination, field) DO UPDATE SET n = relay_stats.n + 1`;
      if (at - purgedAt >= 600_000) {
        purgedAt = at;
        await sql`DELETE FROM relay_stats WHERE minute < ${minuteOf(at - STATS_RETENTION_MS)}`;
      }
    },
    async minuteCounts(since) {
      const rows = await sql<{ minute: string; destination: string; field: string; n: string }[]>`
        SELECT minute, destination, field, n FROM relay_stats WHERE minute >= ${minuteOf(since)}`;
      return rows.map((r) => ({
        minute: Number(r.minute),
        destination: r.destination,
        field: r.field,
        count: Number(r.n),
      }));
    },
  };
}
