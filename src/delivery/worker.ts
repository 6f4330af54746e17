/**
 * The delivery loop: leases due deliveries per destination, sends them ({@link ./send.ts}), and
 * records what the retry policy ({@link ./policy.ts}) makes of each answer. Receivers `wake()` it
 * so a fresh message leaves at once instead of at the next poll.
 *
 * Each destination has its own concurrency, outage pause ({@link ./breaker.ts}) and backoff, so a
 * failing Slack never holds up PlatformX; its delivery settings may set its concurrency, a rate
 * limit ({@link ./rate.ts}) and a retry schedule. Due deliveries are leased ahead in batches
 * ({@link ./lease_ahead.ts}). Destinations the operator paused, or a sink reported
 * gone, are skipped: their deliveries stay stored (`pending`) until resumed or edited.
 *
 * @module
 */
import type { DeliveryConfig } from "../config.ts";
import type { Destination } from "../destinations/destination.ts";
import { logger } from "../log.ts";
import type { RelayMetrics } from "../metrics.ts";
import { recordStats, type StatsStore } from "../store/stats.ts";
import { isHeld, type Lease, type Outbox, type PauseState, type Settings } from "../store/store.ts";
import type { Envelope } from "../coder.ts";
import { createBreaker } from "./breaker.ts";
import { createEnvelopeCache } from "./envelopes.ts";
import { createLeaseAhead, roundsAhead } from "./lease_ahead.ts";
import { type Clock, steadyClock } from "./clock.ts";
import { decide } from "./policy.ts";
import { allowance, refill, spend, type TokenBucket, untilNextMs } from "./rate.ts";
import { reportAttempt, reportDisabled, reportPause, reportRecordFailure } from "./report.ts";
import { attempt, type Attempted } from "./send.ts";
import { createTicker } from "./ticker.ts";

export type { Clock } from "./clock.ts";

/**
 * What the worker needs: the outbox to lease from, the settings that hold destinations, and the
 * per-minute counters it adds each recorded outcome to.
 */
export interface WorkerDeps {
  readonly store: Outbox & Settings & StatsStore;
  /** Called each tick, so destinations added at run time are picked up. */
  readonly destinations: () => readonly Destination[] | Promise<readonly Destination[]>;
  readonly config: DeliveryConfig;
  readonly clock: Clock;
  readonly random?: () => number;
  /** Counts attempt outcomes and latencies. */
  readonly metrics?: RelayMetrics;
}

/** A running delivery loop. */
export interface Worker {
  /** Starts polling. */
  start(): void;
  /**
   * Work was accepted or re-queued: lease it now rather than at the next poll. `accepted`: the
   * message just accepted, already parsed, so that its sends need not parse it again.
   */
  wake(accepted?: { readonly envelope: Envelope; readonly body: Uint8Array }): void;
  /**
   * Polls now if the timer has fallen behind, as it does where the platform freezes idle timers
   * (Deno Deploy): cheap enough to call on every request.
   */
  catchUp(): void;
  /** Runs one tick now and waits for the sends it started. For tests and `send-test`. */
  runOnce(): Promise<void>;
  /** Stops polling and waits for in-flight sends to be recorded. */
  stop(): Promise<void>;
  /** Destinations paused by a `Retry-After` or an outage, with the time they resume. */
  retryAfterPauses(): ReadonlyMap<string, number>;
  /** The pause switches or destination health changed: re-read them now, not at the next poll. */
  settingsChanged(): void;
}

const log = logger("delivery");

/** Creates a worker; nothing runs until `start()` or `runOnce()`. */
export function createWorker(deps: WorkerDeps): Worker {
  const { store, config } = deps;
  const clock = steadyClock(deps.clock);
  const random = deps.random ?? Math.random;
  const breaker = createBreaker(config, random);
  const settings = settingsCache(store, config.pollMs);
  const sends = inflight(() => ticker.soon(0));
  const ahead = createLeaseAhead(store, {
    ...config,
    rounds: roundsAhead(config.leaseMs, config.sendTimeoutMs),
    onRefill: () => ticker.soon(0),
  });
  const envelopes = createEnvelopeCache(store);
  /** Rate-limited destinations' token buckets. */
  const buckets = new Map<string, TokenBucket>();
  const ticker = createTicker(leaseAll, {
    clock,
    pollMs: config.pollMs,
    onError: (err) => log.error("delivery tick failed: {error}", { error: (err as Error).message }),
  });

  /** Leases what each destination has room for; true when some destination may have more due. */
  async function leaseAll(): Promise<boolean> {
    let full = false;
    const now = clock.now();
    const held = await settings.read(now);
    if (held.all) {
      await ahead.release(undefined, now);
      return false;
    }
    for (const dest of await deps.destinations()) {
      if (sends.stopped) break;
      if (breaker.isPaused(dest.id, now) || isHeld(held, dest.id)) {
        await ahead.release(dest.id, now);
        continue;
      }
      const concurrency = dest.delivery?.concurrency ?? config.concurrency;
      const rate = dest.delivery?.rateLimit;
      let room = concurrency - sends.count(dest.id);
      if (room <= 0) continue;
      if (rate === undefined) {
        const leases = await ahead.take(dest.id, room, now, { concurrency });
        if (leases.length === room) full = true;
        run(dest, leases);
        continue;
      }
      // Rate-limited: only what the bucket allows now, and a tick when it allows the next.
      const bucket = refill(buckets.get(dest.id), rate, now);
      room = Math.min(room, allowance(bucket));
      const leases = room > 0 ? await ahead.take(dest.id, room, now, { ahead: false }) : [];
      const left = spend(bucket, leases.length);
      buckets.set(dest.id, left);
      if (leases.length === room) ticker.soon(untilNextMs(left, rate));
      run(dest, leases);
    }
    return full;
  }

  /** Sends each of `leases`, holding a slot of `dest` until the answer is in. */
  function run(dest: Destination, leases: readonly Lease[]) {
    for (const l of leases) {
      sends.track(dest.id, (free) =>
        attempt(dest, l, envelopes, clock)
          .then((a) => record(dest, l, a, free))
          .catch((err) => reportRecordFailure(l.delivery, err)));
    }
  }

  /**
   * Applies the policy to one attempt, records it, and updates the destination's health. The send
   * slot is freed (`free`) once the answer is in, before the outcome is durable: the next send need
   * not wait for the commit, which outcomes recorded meanwhile share.
   */
  async function record(
    dest: Destination,
    l: Lease,
    a: Attempted,
    free: () => void,
  ): Promise<void> {
    const at = clock.now();
    const n = l.delivery.attempts + (a.counts ? 1 : 0);
    const retry = dest.delivery?.retrySchedule
      ? { ...config, retrySchedule: dest.delivery.retrySchedule }
      : config;
    const decision = decide({ result: a.result, attempt: n, at, counts: a.counts }, retry, random);
    const retryAfterMs = a.result.state === "temporary_failure" ? a.result.retryAfterMs : undefined;
    const pause = breaker.observe(dest.id, decision.signal, retryAfterMs, at);
    if (pause) reportPause(dest.id, pause);
    // Held before the outcome is recorded, so no more of its deliveries are leased meanwhile.
    if (decision.disable) await disable(dest.id, decision.disable, at);
    const outcome = { ...decision.outcome, latencyMs: a.latencyMs };
    free();
    const recorded = await store.complete(l, outcome);
    if (recorded) await recordStats(store, dest.id, outcome);
    reportAttempt({ delivery: l.delivery, outcome, attempt: n, recorded }, deps.metrics);
  }

  /** Persists a gone destination's mark, once, so every replica and a restart hold it too. */
  async function disable(destination: string, reason: string, at: number) {
    if (settings.last()?.disabled?.[destination]) return;
    try {
      settings.update(await store.setDisabled(destination, { reason, at }, at));
      reportDisabled(destination, reason);
    } catch (err) {
      log.error("could not record {destination} as disabled: {error}", {
        destination,
        error: (err as Error).message,
      });
    }
  }

  return {
    start: () => ticker.start(),
    wake(accepted) {
      if (accepted) {
        const { envelope, body } = accepted;
        // Decoded only if a sink forwards the text.
        envelopes.set({
          envelope,
          get text() {
            return new TextDecoder().decode(body);
          },
        });
      }
      ticker.soon(0);
    },
    catchUp() {
      if (ticker.isLate(config.pollMs)) ticker.soon(0);
    },
    async runOnce() {
      await ticker.run();
      await sends.settle();
    },
    async stop() {
      sends.stopped = true;
      await ticker.stop();
      await sends.settle();
      await ahead.release(undefined, clock.now());
    },
    retryAfterPauses: () => breaker.paused(clock.now()),
    settingsChanged() {
      settings.invalidate();
      ticker.soon(0);
    },
  };
}

/** The operator's switches and destination health, read at most once per poll interval. */
function settingsCache(store: Settings, pollMs: number) {
  let cached: { state: PauseState; readAt: number } | undefined;
  return {
    async read(now: number): Promise<PauseState> {
      if (!cached || now - cached.readAt >= pollMs || now < cached.readAt) {
        cached = { state: await store.getPause(), readAt: now };
      }
      return cached.state;
    },
    last: () => cached?.state,
    update(state: PauseState) {
      if (cached) cached = { ...cached, state };
    },
    invalidate() {
      cached = undefined;
    },
  };
}

/**
 * Sends in flight, per destination. A send holds its slot until it calls `free` (or ends), and
 * stays in `settle()` until it ends; `onFree` runs as each slot frees.
 */
function inflight(onFree: () => void) {
  const perDestination = new Map<string, number>();
  const all = new Set<Promise<void>>();
  return {
    stopped: false,
    count: (destination: string) => perDestination.get(destination) ?? 0,
    track(destination: string, run: (free: () => void) => Promise<void>) {
      perDestination.set(destination, (perDestination.get(destination) ?? 0) + 1);
      let freed = false;
      const free = () => {
        if (freed) return;
        freed = true;
        perDestination.set(destination, (perDestination.get(destination) ?? 1) - 1);
        onFree();
      };
      const done: Promise<void> = run(free).finally(() => {
        free();
        all.delete(done);
      });
      all.add(done);
    },
    async settle() {
      while (all.size > 0) await Promise.all([...all]);
    },
  };
}
