/**
 * Prometheus metrics without a dependency: counters and histograms kept in memory (the hot path
 * only adds to a number), gauges computed at scrape time (queue depth comes from the store, so it
 * is right even with several replicas). Rendered in the text exposition format 0.0.4. Every series
 * carries the one application prefix `coder_relay_`, and every series a dashboard or alert needs is
 * present (at 0) from start-up, so `rate()` and `absent()` work before the first event.
 *
 * @module
 */
import type { MessageLog, QueueStats, Settings } from "./store/store.ts";

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

/** A monotonically increasing count. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

/** A distribution over fixed buckets. */
export interface Histogram {
  observe(value: number, labels?: Labels): void;
}

/** One gauge value, computed when scraped. */
export interface GaugeSample {
  readonly labels: Labels;
  readonly value: number;
}

/** Metrics of one process; `render()` is what `GET /metrics` answers. */
export interface Registry {
  counter(name: string, help: string): Counter;
  histogram(name: string, help: string, buckets: readonly number[]): Histogram;
  /** A gauge whose samples `collect` computes at each scrape. */
  gauge(name: string, help: string, collect: () => Promise<GaugeSample[]>): void;
  /** Runs `fn` at the start of each scrape, e.g. to create series that must show at 0. */
  beforeRender(fn: () => Promise<void>): void;
  render(): Promise<string>;
}

/** The content type Prometheus expects for the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Creates an empty registry. */
export function createRegistry(): Registry {
  const renderers: (() => Promise<string[]> | string[])[] = [];
  const hooks: (() => Promise<void>)[] = [];

  return {
    counter(name, help) {
      const values = new Map<string, number>();
      renderers.push(() => [
        `# HELP ${name} ${help}`,
        `# TYPE ${name} counter`,
        ...[...values].map(([labels, v]) => `${name}${labels} ${v}`),
      ]);
      return {
        inc(labels = {}, by = 1) {
          const key = formatLabels(labels);
          values.set(key, (values.get(key) ?? 0) + by);
        },
      };
    },
    histogram(name, help, buckets) {
      const series = new Map<string, { labels: Labels; counts: number[]; sum: number }>();
      renderers.push(() => {
        const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
        for (const { labels, counts, sum } of series.values()) {
          buckets.forEach((le, i) => {
            lines.push(`${name}_bucket${formatLabels({ ...labels, le: String(le) })} ${counts[i]}`);
          });
          const total = counts[buckets.length];
          lines.push(`${name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${total}`);
          lines.push(`${name}_sum${formatLabels(labels)} ${sum}`);
          lines.push(`${name}_count${formatLabels(labels)} ${total}`);
        }
        return lines;
      });
      return {
        observe(value, labels = {}) {
          const key = formatLabels(labels);
          let s = series.get(key);
          if (!s) {
            series.set(key, s = { labels, counts: new Array(buckets.length + 1).fill(0), sum: 0 });
          }
          // Cumulative buckets: every bucket at or above the value counts it; the last is +Inf.
          for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]) s.counts[i]++;
          s.counts[buckets.length]++;
          s.sum += value;
        },
      };
    },
    gauge(name, help, collect) {
      renderers.push(async () => [
        `# HELP ${name} ${help}`,
        `# TYPE ${name} gauge`,
        ...(await collect()).map((s) => `${name}${formatLabels(s.labels)} ${s.value}`),
      ]);
    },
    beforeRender(fn) {
      hooks.push(fn);
    },
    async render() {
      for (const hook of hooks) await hook();
      const parts: string[] = [];
      for (const r of renderers) parts.push(...await r());
      return parts.join("\n") + "\n";
    },
  };
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** The one prefix of every series this relay exports. */
export const METRIC_PREFIX = "coder_relay_";

/** Attempt outcomes the worker counts: each destination shows all of them, at 0 until one happens. */
const ATTEMPT_STATES = ["sent", "temporary_failure", "permanent_failure", "unknown"] as const;
const ACCEPT_RESULTS = ["stored", "duplicate", "ignored"] as const;

/** The relay's own metrics: what the receiver and the worker count. */
export interface RelayMetrics {
  readonly registry: Registry;
  /** Every webhook request, before any check. */
  readonly received: Counter;
  /** Stored (`result="stored"`), a Coder retry (`duplicate`) or tracked by nobody (`ignored`). */
  readonly accepted: Counter;
  /** Refused, by `reason` (the error code the client got). */
  readonly rejected: Counter;
  /** Attempt outcomes by `destination` and `state`. */
  readonly deliveries: Counter;
  /** Seconds per send, by `destination`. */
  readonly deliveryLatency: Histogram;
  /** Seconds per `store.accept`. */
  readonly storeWriteLatency: Histogram;
  /** Open deliveries older than retention, as the retention task last counted them. */
  readonly retentionOverdue: { set(count: number): void };
}

/** What the relay's metrics read besides what it counts. */
export interface RelayMetricsSources {
  /** Ages the oldest queued delivery. */
  readonly now: () => number;
  /** Ids of the destinations now defined: each gets its series at 0 before its first event. */
  readonly destinations?: () => Promise<readonly string[]>;
  /** `deno.json`'s version, for `coder_relay_build_info`. */
  readonly version?: string;
}

/**
 * Creates the relay's metrics. Queue depth, oldest queued age and pause switches are read from
 * `store` at scrape time; so are the destinations' ids, so one added through the admin API shows
 * up at 0 on the next scrape.
 */
export function createRelayMetrics(
  store: Pick<MessageLog, "queueStats"> & Pick<Settings, "getPause">,
  sources: RelayMetricsSources,
): RelayMetrics {
  const { now } = sources;
  const p = METRIC_PREFIX;
  const registry = createRegistry();
  let overdue = 0;
  const metrics: RelayMetrics = {
    registry,
    received: registry.counter(`${p}messages_received_total`, "Webhook requests received."),
    accepted: registry.counter(
      `${p}messages_accepted_total`,
      "Webhook messages acknowledged, by result (stored, duplicate, ignored).",
    ),
    rejected: registry.counter(
      `${p}messages_rejected_total`,
      "Webhook requests refused, by reason.",
    ),
    deliveries: registry.counter(
      `${p}deliveries_total`,
      "Delivery attempts by destination and resulting state.",
    ),
    deliveryLatency: registry.histogram(
      `${p}delivery_duration_seconds`,
      "Time of one delivery attempt, by destination.",
      LATENCY_BUCKETS,
    ),
    storeWriteLatency: registry.histogram(
      `${p}store_write_duration_seconds`,
      "Time to store one accepted message durably.",
      STORE_BUCKETS,
    ),
    retentionOverdue: {
      set(count) {
        overdue = count;
      },
    },
  };
  metrics.received.inc({}, 0);
  for (const result of ACCEPT_RESULTS) metrics.accepted.inc({ result }, 0);
  let ids: readonly string[] = [];
  registry.beforeRender(async () => {
    ids = (await sources.destinations?.()) ?? [];
    for (const destination of ids) {
      for (const state of ATTEMPT_STATES) metrics.deliveries.inc({ destination, state }, 0);
    }
  });
  registry.gauge(
    `${p}build_info`,
    "Always 1; the labels say which build runs (version, deno).",
    () =>
      Promise.resolve([{
        labels: { version: sources.version ?? "unknown", deno: Deno.version.deno },
        value: 1,
      }]),
  );
  registry.gauge(
    `${p}process_resident_memory_bytes`,
    "Resident memory of this process.",
    () => Promise.resolve([{ labels: {}, value: Deno.memoryUsage().rss }]),
  );
  registry.gauge(
    `${p}process_start_time_seconds`,
    "When this process started, in seconds since the Unix epoch.",
    () => Promise.resolve([{ labels: {}, value: Math.floor(performance.timeOrigin) / 1000 }]),
  );
  // Both queue gauges come from one store scan per scrape: gauges render in order, the first
  // scans, the second reuses its result. Every defined destination shows, at 0 when idle.
  let scanned: Map<string, QueueStats> = new Map();
  const queued = () => [...new Set([...ids, ...scanned.keys()])];
  registry.gauge(`${p}queue_depth`, "Deliveries not yet final, by destination.", async () => {
    scanned = await store.queueStats();
    return queued().map((destination) => ({
      labels: { destination },
      value: scanned.get(destination)?.depth ?? 0,
    }));
  });
  registry.gauge(
    `${p}queue_oldest_age_seconds`,
    "Age of the oldest delivery not yet final, by destination (0 when none).",
    () =>
      Promise.resolve(
        queued().map((destination) => {
          const oldest = scanned.get(destination)?.oldestReceivedAt;
          return {
            labels: { destination },
            value: oldest === undefined ? 0 : Math.max(0, (now() - oldest) / 1000),
          };
        }),
      ),
  );
  registry.gauge(
    `${p}delivery_paused`,
    'Operator pause switches: 1 when paused (destination="*" is the global switch).',
    async () => {
      const pause = await store.getPause();
      const paused = new Set(pause.destinations);
      return [
        { labels: { destination: "*" }, value: pause.all ? 1 : 0 },
        ...[...new Set([...ids, ...paused])].map((destination) => ({
          labels: { destination },
          value: paused.has(destination) ? 1 : 0,
        })),
      ];
    },
  );
  registry.gauge(
    `${p}destination_disabled`,
    "Destinations a sink reported gone (1): their deliveries are held until edited or resumed.",
    async () => {
      const disabled = new Set(Object.keys((await store.getPause()).disabled ?? {}));
      return [...new Set([...ids, ...disabled])].map((destination) => ({
        labels: { destination },
        value: disabled.has(destination) ? 1 : 0,
      }));
    },
  );
  registry.gauge(
    `${p}retention_overdue`,
    "Unfinished deliveries received longer than RELAY_RETENTION_DAYS ago (kept, never purged).",
    () => Promise.resolve([{ labels: {}, value: overdue }]),
  );
  return metrics;
}
