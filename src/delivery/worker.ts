/**
 * The delivery loop: leases due deliveries per destination, sends them, records the outcome. A
 * timer, not a KV queue, so it runs the same on Deno Deploy (which has no `listenQueue`); receivers
 * also `poke()` it so a fresh message leaves at once instead of at the next poll.
 *
 * Each destination has its own concurrency, pause (after `Retry-After`) and backoff, so a failing
 * Slack never holds up PlatformX.
 *
 * @module
 */
import { type Envelope, EnvelopeSchema } from "../coder.ts";
import type { DeliveryConfig } from "../config.ts";
import type { Destination } from "../destinations.ts";
import { logger } from "../log.ts";
import type { SendResult, Sink } from "../sinks/sink.ts";
import type { RelayMetrics } from "../metrics.ts";
import type { Lease, Outcome, PauseState, Store } from "../store/store.ts";
import { backoffMs } from "./backoff.ts";
import { createLeaseAhead, roundsAhead } from "./lease_ahead.ts";

/** Milliseconds since epoch; injected so tests can move time. */
export interface Clock {
  now(): number;
}

/** What the worker needs. */
export interface WorkerDeps {
  readonly store: Store;
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
  /** Asks for a tick soon: new work may be due. */
  poke(): void;
  /**
   * Ticks only if the timer has fallen behind, as it does where the platform freezes idle timers
   * (Deno Deploy): cheap enough to call on every request.
   */
  nudge(): void;
  /** Runs one tick now and waits for the sends it started. For tests and `send-test`. */
  runOnce(): Promise<void>;
  /** Stops polling and waits for in-flight sends to be recorded. */
  stop(): Promise<void>;
  /** Destinations paused by a `Retry-After`, with the time they resume. */
  paused(): ReadonlyMap<string, number>;
  /**
   * Whether a sink asked to stop delivering to this destination (a webhook answering 410). It
   * holds for that sink: until restart, or until an edit of the subscription builds a new one.
   */
  isDisabled(destination: Destination): boolean;
  /** The operator's pause switches changed: re-read them now instead of at the next poll. */
  pauseChanged(): void;
}

const log = logger("delivery");
const PURGE_EVERY_MS = 60 * 60 * 1000;
/**
 * Temporary failures in a row, across messages, after which a destination counts as down: it is
 * then paused (growing with the failures, at most {@link OUTAGE_MAX_PAUSE_MS}) so that only one
 * round of probes goes out per pause, instead of every due delivery burning an attempt and the
 * store absorbing a lease and an outcome per try while accepts compete for it.
 */
const OUTAGE_AFTER = 3;
const OUTAGE_MAX_PAUSE_MS = 30_000;

/** Creates a worker; nothing runs until `start()` or `runOnce()`. */
export function createWorker(deps: WorkerDeps): Worker {
  const { store, config, clock } = deps;
  const random = deps.random ?? Math.random;
  const inflight = new Map<string, number>();
  const sending = new Set<Promise<void>>();
  const pausedUntil = new Map<string, number>();
  /** Destination id → the sink that reported it gone. */
  const disabled = new Map<string, Sink>();
  const isDisabled = (dest: Destination) => disabled.get(dest.id) === dest.sink;
  const failuresInARow = new Map<string, number>();
  const ahead = createLeaseAhead(store, {
    ...config,
    rounds: roundsAhead(config.leaseMs, config.sendTimeoutMs),
    onRefill: () => schedule(0),
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Infinity;
  let ticking: Promise<void> | undefined;
  let again = false;
  let started = false;
  let stopped = false;
  let lastPurge = 0;
  // The operator's switches, read at most once per poll interval (one store read), or at once
  // after `pauseChanged()`.
  let pause: { state: PauseState; readAt: number } | undefined;

  function schedule(delayMs: number) {
    if (stopped || !started) return;
    const at = clock.now() + delayMs;
    if (timer !== undefined && timerAt <= at) return;
    if (timer !== undefined) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Infinity;
      void tick();
    }, delayMs);
  }

  function tick(): Promise<void> {
    if (ticking) {
      again = true;
      return ticking;
    }
    ticking = (async () => {
      let full = false;
      try {
        do {
          again = false;
          full = await leaseAll() || full;
        } while (again && !stopped);
        await maybePurge();
      } catch (err) {
        log.error("delivery tick failed: {error}", { error: (err as Error).message });
      } finally {
        ticking = undefined;
        schedule(full ? 0 : config.pollMs);
      }
    })();
    return ticking;
  }

  /** Leases what each destination has room for; true when some destination may have more due. */
  async function leaseAll(): Promise<boolean> {
    let full = false;
    const now = clock.now();
    if (!pause || now - pause.readAt >= config.pollMs) {
      pause = { state: await store.getPause(), readAt: now };
    }
    const held = pause.state;
    if (held.all) {
      await ahead.release(undefined, now);
      return false;
    }
    for (const dest of await deps.destinations()) {
      if (stopped) break;
      if (
        (pausedUntil.get(dest.id) ?? 0) > now || isDisabled(dest) ||
        held.destinations.includes(dest.id)
      ) {
        await ahead.release(dest.id, now);
        continue;
      }
      const room = config.concurrency - (inflight.get(dest.id) ?? 0);
      if (room <= 0) continue;
      const leases = await ahead.take(dest.id, room, now);
      if (leases.length === room) full = true;
      for (const l of leases) run(dest, l);
    }
    return full;
  }

  /**
   * Frees a send slot once the answer is in, before its outcome is durable: the next send need
   * not wait for the commit (outcomes recorded meanwhile share it). `sending` still holds the
   * delivery until recorded, so `stop()` waits for it.
   */
  const slots = new Map<Lease, () => void>();

  function run(dest: Destination, l: Lease) {
    inflight.set(dest.id, (inflight.get(dest.id) ?? 0) + 1);
    slots.set(l, () => {
      slots.delete(l);
      inflight.set(dest.id, (inflight.get(dest.id) ?? 1) - 1);
      schedule(0);
    });
    const p = deliver(dest, l).catch((err) => {
      log.error("delivery of {msgId} to {destination} failed to record: {error}", {
        msgId: l.delivery.msgId,
        destination: dest.id,
        error: (err as Error).message,
      });
    }).finally(() => {
      slots.get(l)?.();
      sending.delete(p);
    });
    sending.add(p);
  }

  async function deliver(dest: Destination, l: Lease): Promise<void> {
    const d = l.delivery;
    if (l.expired && !dest.sink.idempotent) {
      // A worker died (or stalled) holding this lease: the request may have gone out.
      await record(
        dest,
        l,
        {
          state: "unknown",
          reason: "an earlier attempt was interrupted mid-send (lease expired); not resent " +
            "because the destination cannot dedupe: replay it if the event is missing",
        },
        0,
        false,
      );
      return;
    }
    const started = clock.now();
    let result: SendResult;
    const envelope = await loadEnvelope(d.msgId);
    if (!envelope) {
      result = { state: "permanent_failure", reason: "message body is gone (purged?)" };
    } else {
      try {
        result = await dest.sink.send({
          msgId: d.msgId,
          envelope,
          receivedAt: d.receivedAt,
          attempt: d.attempts + 1,
        });
      } catch (err) {
        result = {
          state: dest.sink.idempotent ? "temporary_failure" : "unknown",
          reason: `sink error: ${(err as Error).message}`,
        };
      }
    }
    await record(dest, l, result, clock.now() - started, true);
  }

  async function loadEnvelope(msgId: string): Promise<Envelope | undefined> {
    const body = await store.getBody(msgId);
    if (!body) return undefined;
    const parsed = EnvelopeSchema.safeParse(JSON.parse(new TextDecoder().decode(body)));
    return parsed.success ? parsed.data : undefined;
  }

  async function record(
    dest: Destination,
    l: Lease,
    result: SendResult,
    latencyMs: number,
    counts: boolean,
  ) {
    const d = l.delivery;
    const at = clock.now();
    const attempt = d.attempts + (counts ? 1 : 0);
    let outcome: Outcome;
    if (result.state === "temporary_failure") {
      const failures = (failuresInARow.get(dest.id) ?? 0) + 1;
      failuresInARow.set(dest.id, failures);
      if (result.retryAfterMs !== undefined) {
        pausedUntil.set(dest.id, at + result.retryAfterMs);
        log.warn("{destination} asked to slow down: paused for {ms} ms", {
          destination: dest.id,
          ms: result.retryAfterMs,
        });
      } else if (failures >= OUTAGE_AFTER && (pausedUntil.get(dest.id) ?? 0) <= at) {
        const ms = Math.min(
          OUTAGE_MAX_PAUSE_MS,
          backoffMs(failures - OUTAGE_AFTER + 1, config.retryMinMs, config.retryMaxMs, random),
        );
        pausedUntil.set(dest.id, at + ms);
        log.warn("{destination} failed {failures} times in a row: paused for {ms} ms", {
          destination: dest.id,
          failures,
          ms,
        });
      }
      if (attempt >= config.maxAttempts) {
        outcome = {
          state: "permanent_failure",
          at,
          latencyMs,
          status: result.status,
          reason: `gave up after ${attempt} attempts: ${result.reason}`,
        };
      } else {
        const wait = result.retryAfterMs ??
          backoffMs(attempt, config.retryMinMs, config.retryMaxMs, random);
        outcome = { ...result, at, latencyMs, nextAttemptAt: at + wait };
      }
    } else {
      if (result.state === "permanent_failure" && result.disable && !isDisabled(dest)) {
        disabled.set(dest.id, dest.sink);
        log.error(
          "{destination} is gone ({reason}): disabled until it is edited or the relay restarts; " +
            "its pending deliveries wait",
          { destination: dest.id, reason: result.reason },
        );
      }
      // An answer that is not a temporary failure shows the destination is up.
      if (result.state !== "unknown") failuresInARow.delete(dest.id);
      outcome = {
        state: result.state,
        at,
        latencyMs,
        status: result.status,
        reason: result.state === "sent" ? result.detail : result.reason,
        counts,
      };
    }
    slots.get(l)?.();
    const ok = await store.complete(l, outcome);
    deps.metrics?.deliveries.inc({ destination: dest.id, state: outcome.state });
    if (counts) deps.metrics?.deliveryLatency.observe(latencyMs / 1000, { destination: dest.id });
    const props = {
      msgId: d.msgId,
      event: d.name,
      destination: dest.id,
      state: outcome.state,
      attempt,
      latencyMs,
      status: outcome.status,
      reason: outcome.reason,
    };
    if (!ok) log.warn("lease on {msgId} for {destination} was lost; outcome not recorded", props);
    else if (outcome.state === "sent") {
      log.info("delivered {msgId} ({event}) to {destination} in {latencyMs} ms", props);
    } else if (outcome.state === "temporary_failure") {
      log.info("{msgId} ({event}) to {destination}: {state}, retry {attempt}: {reason}", props);
    } else {
      log.warn("{msgId} ({event}) to {destination}: {state}: {reason}", props);
    }
  }

  async function maybePurge() {
    const now = clock.now();
    if (now - lastPurge < PURGE_EVERY_MS) return;
    lastPurge = now;
    const purged = await store.purge(now - config.retentionMs);
    if (purged > 0) log.info("purged {purged} messages older than retention", { purged });
  }

  return {
    start() {
      if (started) return;
      started = true;
      schedule(0);
    },
    poke() {
      schedule(0);
    },
    nudge() {
      if (started && !ticking && timerAt < clock.now() - config.pollMs) schedule(0);
    },
    async runOnce() {
      await tick();
      while (sending.size > 0) await Promise.all([...sending]);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await ticking;
      while (sending.size > 0) await Promise.all([...sending]);
      await ahead.release(undefined, clock.now());
    },
    paused() {
      const now = clock.now();
      return new Map([...pausedUntil].filter(([, until]) => until > now));
    },
    isDisabled,
    pauseChanged() {
      pause = undefined;
      schedule(0);
    },
  };
}
