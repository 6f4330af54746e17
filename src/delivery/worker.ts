/**
 * The delivery loop: leases due deliveries per destination, sends them ({@link ./send.ts}), and
 * records what the retry policy ({@link ./policy.ts}) makes of each answer. Receivers `wake()` it
 * so a fresh message leaves at once instead of at the next poll.
 *
 * Each destination has its own concurrency, outage pause ({@link ./breaker.ts}) and backoff, so a
 * failing Slack never holds up PlatformX. Destinations the operator paused, or a sink reported
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
import { createBreaker } from "./breaker.ts";
import { type Clock, steadyClock } from "./clock.ts";
import { decide } from "./policy.ts";
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
  /** Work was accepted or re-queued: lease it now rather than at the next poll. */
  wake(): void;
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
  const sends = inflight();
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
    if (held.all) return false;
    for (const dest of await deps.destinations()) {
      if (sends.stopped) break;
      if (breaker.isPaused(dest.id, now) || isHeld(held, dest.id)) continue;
      const room = config.concurrency - sends.count(dest.id);
      if (room <= 0) continue;
      const leases = await store.lease(dest.id, now, room, config.leaseMs);
      if (leases.length === room) full = true;
      for (const l of leases) {
        const sent = attempt(dest, l, store, clock).then((a) => record(dest, l, a));
        sends.track(
          dest.id,
          sent.catch((err) => reportRecordFailure(l.delivery, err)).finally(() => ticker.soon(0)),
        );
      }
    }
    return full;
  }

  /** Applies the policy to one attempt, records it, and updates the destination's health. */
  async function record(dest: Destination, l: Lease, a: Attempted): Promise<void> {
    const at = clock.now();
    const n = l.delivery.attempts + (a.counts ? 1 : 0);
    const decision = decide({ result: a.result, attempt: n, at, counts: a.counts }, config, random);
    const retryAfterMs = a.result.state === "temporary_failure" ? a.result.retryAfterMs : undefined;
    const pause = breaker.observe(dest.id, decision.signal, retryAfterMs, at);
    if (pause) reportPause(dest.id, pause);
    // Held before the outcome is recorded, so no more of its deliveries are leased meanwhile.
    if (decision.disable) await disable(dest.id, decision.disable, at);
    const outcome = { ...decision.outcome, latencyMs: a.latencyMs };
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
    wake: () => ticker.soon(0),
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

/** Sends in flight, per destination. */
function inflight() {
  const perDestination = new Map<string, number>();
  const all = new Set<Promise<void>>();
  return {
    stopped: false,
    count: (destination: string) => perDestination.get(destination) ?? 0,
    track(destination: string, p: Promise<void>) {
      perDestination.set(destination, (perDestination.get(destination) ?? 0) + 1);
      const done: Promise<void> = p.finally(() => {
        perDestination.set(destination, (perDestination.get(destination) ?? 1) - 1);
        all.delete(done);
      });
      all.add(done);
    },
    async settle() {
      while (all.size > 0) await Promise.all([...all]);
    },
  };
}
