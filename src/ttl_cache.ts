/**
 * A bounded in-memory cache whose entries expire: lookups against other systems (Coder users,
 * Slack users) cache hits for long and misses for a while, so a burst of events about one person
 * costs one request.
 *
 * @module
 */

/** Values by key, each until its own expiry. */
export interface TtlCache<V> {
  /** The live value, or undefined once expired or never set. */
  get(key: string): V | undefined;
  /** Stores `value` for `ttlMs` and returns it, evicting the oldest entry when full. */
  set(key: string, value: V, ttlMs: number): V;
}

/** Creates a cache reading time from `now`, so tests can move the clock. */
export function createTtlCache<V>(now: () => number, maxEntries = 10_000): TtlCache<V> {
  const entries = new Map<string, { until: number; value: V }>();
  return {
    get(key) {
      const hit = entries.get(key);
      return hit && hit.until > now() ? hit.value : undefined;
    },
    set(key, value, ttlMs) {
      entries.delete(key);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, { until: now() + ttlMs, value });
      return value;
    },
  };
}

/**
 * Shares one in-flight call per key among concurrent callers: messages delivered in parallel for the
 * same person wait for the one lookup under way instead of each starting their own, so the cache
 * above is filled before anyone else asks.
 */
export function singleFlight<T>(): (key: string, fn: () => Promise<T>) => Promise<T> {
  const inflight = new Map<string, Promise<T>>();
  return (key, fn) => {
    let p = inflight.get(key);
    if (!p) {
      p = fn().finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p;
  };
}
