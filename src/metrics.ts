/**
 * Prometheus metrics without a dependency: counters and histograms kept in memory (the hot path
 * only adds to a number), gauges computed at scrape time (queue depth comes from the store, so it
 * is right even with several replicas). Rendered in the text exposition format 0.0.4.
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
  render(): Promise<string>;
}

/** The content type Prometheus expects for the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Creates an empty registry. */
export function createRegistry(): Registry {
  const renderers: (() => Promise<string[]> | string[])[] = [];

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
    async render() {
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

/**
 * Creates the relay's metrics. Queue depth, oldest queued age and pause switches are read from
 * `store` at scrape time; `now` ages them.
 */
export function createRelayMetrics(
  store: Pick<MessageLog, "queueStats"> & Pick<Settings, "getPause">,
  now: () => number,
): RelayMetrics {
  const registry = createRegistry();
  let overdue = 0;
  const metrics: RelayMetrics = {
    registry,
    received: registry.counter("relay_messages_received_total", "Webhook requests received."),
    accepted: registry.counter(
      "relay_messages_accepted_total",
      "Webhook messages acknowledged, by result (stored, duplicate, ignored).",
    ),
    rejected: registry.counter(
      "relay_messages_rejected_total",
      "Webhook requests refused, by reason.",
    ),
    deliveries: registry.counter(
      "relay_deliveries_total",
      "Delivery attempts by destination and resulting state.",
    ),
    deliveryLatency: registry.histogram(
      "relay_delivery_duration_seconds",
      "Time of one delivery attempt, by destination.",
      LATENCY_BUCKETS,
    ),
    storeWriteLatency: registry.histogram(
      "relay_store_write_duration_seconds",
      "Time to store one accepted message durably.",
      STORE_BUCKETS,
    ),
    retentionOverdue: {
      set(count) {
        overdue = count;
      },
    },
  };
  // Both queue gauges come from one store scan per scrape: gauges render in order, the first
  // scans, the second reuses its result.
  let scanned: Map<string, QueueStats> = new Map();
  registry.gauge("relay_queue_depth", "Deliveries not yet final, by destination.", async () => {
    scanned = await store.queueStats();
    return [...scanned].map(([destination, s]) => ({ labels: { destination }, value: s.depth }));
  });
  registry.gauge(
    "relay_queue_oldest_age_seconds",
    "Age of the oldest delivery not yet final, by destination.",
    () =>
      Promise.resolve(
        [...scanned].filter(([, s]) => s.oldestReceivedAt !== undefined).map((
          [destination, s],
        ) => ({
          labels: { destination },
          value: Math.max(0, (now() - s.oldestReceivedAt!) / 1000),
        })),
      ),
  );
  registry.gauge(
    "relay_delivery_paused",
    'Operator pause switches: 1 when paused (destination="*" is the global switch).',
    async () => {
      const p = await store.getPause();
      return [
        { labels: { destination: "*" }, value: p.all ? 1 : 0 },
        ...p.destinations.map((destination) => ({ labels: { destination }, value: 1 })),
      ];
    },
  );
  registry.gauge(
    "relay_destination_disabled",
    "Destinations a sink reported gone (1): their deliveries are held until edited or resumed.",
    async () =>
      Object.keys((await store.getPause()).disabled ?? {}).map((destination) => ({
        labels: { destination },
        value: 1,
      })),
  );
  registry.gauge(
    "relay_retention_overdue",
    "Unfinished deliveries received longer than RELAY_RETENTION_DAYS ago (kept, never purged).",
    () => Promise.resolve([{ labels: {}, value: overdue }]),
  );
  return metrics;
}
