/**
 * `GET /api/v1/stats`: what the console's overview shows, from the store's per-minute counters
 * and queue figures (never a scan of the messages).
 *
 * @module
 */
import { Hono } from "hono";
import { invalidInput } from "../http/errors.ts";
import { issuesOf } from "../issues.ts";
import { LATENCY_BUCKETS_MS, latencyQuantile, minuteOf } from "../store/stats.ts";
import type { StatsStore } from "../store/stats.ts";
import type { MessageLog, Settings } from "../store/store.ts";
import type { DestinationSet } from "../destinations/set.ts";
import { StatsQuerySchema } from "./schemas.ts";

/** What the statistics route needs. */
export interface StatsDeps {
  readonly store: Pick<MessageLog, "queueStats"> & Pick<Settings, "getPause"> & StatsStore;
  readonly destinations: DestinationSet;
  readonly now: () => number;
}

type Counts = { sent: number; failed: number; retried: number };
const zero = (): Counts => ({ sent: 0, failed: 0, retried: 0 });
const iso = (ms: number) => new Date(ms).toISOString();

/** The route, to mount under the admin API's authentication. */
export function createStatsRoutes(deps: StatsDeps): Hono {
  const app = new Hono();
  app.get("/stats", async (c) => {
    const parsed = StatsQuerySchema.safeParse(Object.fromEntries(new URL(c.req.url).searchParams));
    if (!parsed.success) throw invalidInput("invalid_query", issuesOf(parsed.error));
    const minutes = parsed.data.minutes;
    const now = deps.now();
    const dayStart = minuteOf(now) - 1439 * 60_000;
    const hourStart = minuteOf(now) - 59 * 60_000;
    const windowStart = minuteOf(now) - (minutes - 1) * 60_000;
    const [destinations, queues, pause, rows] = await Promise.all([
      deps.destinations.list(),
      deps.store.queueStats(),
      deps.store.getPause(),
      deps.store.minuteCounts(Math.min(dayStart, windowStart)),
    ]);
    const perDest = new Map<string, { hour: Counts; day: Counts; buckets: number[] }>();
    const perMinute = new Map<number, Counts>();
    for (const r of rows) {
      if (r.minute > now) continue;
      const d = perDest.get(r.destination) ??
        { hour: zero(), day: zero(), buckets: LATENCY_BUCKETS_MS.map(() => 0).concat(0) };
      perDest.set(r.destination, d);
      if (r.field.startsWith("l")) {
        if (r.minute >= dayStart) d.buckets[Number(r.field.slice(1))] += r.count;
        continue;
      }
      const field = r.field as keyof Counts;
      if (r.minute >= dayStart) d.day[field] += r.count;
      if (r.minute >= hourStart) d.hour[field] += r.count;
      if (r.minute >= windowStart) {
        const m = perMinute.get(r.minute) ?? zero();
        m[field] += r.count;
        perMinute.set(r.minute, m);
      }
    }
    return c.json({
      now: iso(now),
      window_minutes: minutes,
      destinations: destinations.map((d) => {
        const s = perDest.get(d.id);
        const q = queues.get(d.id);
        const gone = pause.disabled?.[d.id];
        const [state, reason] = !d.enabled
          ? ["disabled", "disabled in its configuration"]
          : gone
          ? ["disabled", `${gone.reason}; its deliveries are held until it is edited or resumed`]
          : pause.all
          ? ["paused", "every destination is paused"]
          : pause.destinations.includes(d.id)
          ? ["paused", "paused by an operator"]
          : ["enabled", null];
        return {
          id: d.id,
          type: d.type,
          state,
          reason,
          queue_depth: q?.depth ?? 0,
          oldest_queued_at: q?.oldestReceivedAt ? iso(q.oldestReceivedAt) : null,
          last_hour: s?.hour ?? zero(),
          last_day: s?.day ?? zero(),
          latency_ms: {
            p50: s ? latencyQuantile(s.buckets, 0.5) : null,
            p99: s ? latencyQuantile(s.buckets, 0.99) : null,
          },
        };
      }),
      minutes: [...perMinute].sort(([a], [b]) => a - b).map(([at, m]) => ({ at: iso(at), ...m })),
    });
  });
  return app;
}
