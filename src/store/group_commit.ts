/**
 * Group commit: many callers' writes share one transaction, so a busy relay pays one commit for a
 * batch of webhooks instead of one each. No timer: a batch leaves as soon as a slot is free, so an
 * idle relay adds no latency, and under load the queue that builds while slots are busy becomes the
 * next batch.
 *
 * @module
 */

/** How batches are formed. */
export interface GroupCommitOptions<I> {
  /** Items in one batch at most. */
  readonly maxBatch: number;
  /** What an item weighs (e.g. its bytes) and how much one batch may carry; one item always goes. */
  readonly weight?: (item: I) => number;
  readonly maxWeight?: number;
  /** Batches in flight at once (each holds a database connection). */
  readonly maxInFlight: number;
  /** Items with the same key never share a batch (e.g. two receipts of one `msg_id`). */
  readonly key: (item: I) => string;
  /**
   * Whether a failed batch should be retried item by item, so that one bad item (a value the
   * database refuses) fails alone instead of taking the whole batch with it.
   */
  readonly splittable: (err: unknown) => boolean;
}

/** A queue in front of `flush`. */
export interface GroupCommit<I, O> {
  /** Resolves with this item's result once the batch holding it has committed. */
  submit(item: I): Promise<O>;
  /** Resolves once everything submitted so far has settled. */
  drain(): Promise<void>;
}

interface Pending<I, O> {
  readonly item: I;
  resolve(value: O): void;
  reject(err: unknown): void;
}

/** Wraps `flush` (one transaction for all items, results in item order) in a batching queue. */
export function groupCommit<I, O>(
  flush: (items: I[]) => Promise<O[]>,
  options: GroupCommitOptions<I>,
): GroupCommit<I, O> {
  let queue: Pending<I, O>[] = [];
  let inFlight = 0;
  const running = new Set<Promise<void>>();

  function pump() {
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch: Pending<I, O>[] = [];
      const keys = new Set<string>();
      const rest: Pending<I, O>[] = [];
      let weight = 0;
      for (const p of queue) {
        const k = options.key(p.item);
        const w = options.weight?.(p.item) ?? 0;
        const fits = batch.length === 0 ||
          (batch.length < options.maxBatch && weight + w <= (options.maxWeight ?? Infinity));
        if (fits && !keys.has(k)) {
          keys.add(k);
          weight += w;
          batch.push(p);
        } else rest.push(p);
      }
      queue = rest;
      inFlight++;
      const run = settle(batch).finally(() => {
        inFlight--;
        running.delete(run);
        pump();
      });
      running.add(run);
    }
  }

  async function settle(batch: Pending<I, O>[]): Promise<void> {
    try {
      const results = await flush(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch (err) {
      if (batch.length > 1 && options.splittable(err)) {
        await Promise.all(batch.map((p) => settle([p])));
      } else {
        for (const p of batch) p.reject(err);
      }
    }
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        pump();
      });
    },
    async drain() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
