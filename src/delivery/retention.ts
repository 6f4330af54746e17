/**
 * The retention task: purges messages whose deliveries all became final more than retention ago,
 * on its own timer, apart from the delivery loop. Unfinished work is never purged, however old;
 * when some is older than retention, it says so (a warning and the `coder_relay_retention_overdue`
 * gauge) so that an operator can resume, fix or replay it.
 *
 * @module
 */
import { logger } from "../log.ts";
import type { Outbox } from "../store/store.ts";

const log = logger("retention");

/** How often the task runs. */
export const PURGE_EVERY_MS = 60 * 60 * 1000;

/** What one run found. */
export interface RetentionRun {
  readonly purged: number;
  /** Open deliveries received longer than retention ago: kept, and worth a look. */
  readonly overdue: number;
}

/** A periodic purge. */
export interface RetentionTask {
  /** Runs now and then every {@link PURGE_EVERY_MS}. */
  start(): void;
  /** One run, now. */
  runOnce(): Promise<RetentionRun>;
  /** Stops the timer and waits for a run under way. */
  stop(): Promise<void>;
}

/** What the task needs. */
export interface RetentionDeps {
  readonly store: Pick<Outbox, "purge" | "countOpen">;
  readonly retentionMs: number;
  readonly now: () => number;
  /** Receives each run's count of overdue open deliveries (a gauge). */
  readonly onOverdue?: (count: number) => void;
  readonly everyMs?: number;
}

/** Creates the task; nothing runs until `start()` or `runOnce()`. */
export function createRetentionTask(deps: RetentionDeps): RetentionTask {
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<RetentionRun> | undefined;

  async function purgeOnce(): Promise<RetentionRun> {
    const cutoff = deps.now() - deps.retentionMs;
    const purged = await deps.store.purge(cutoff);
    if (purged > 0) log.info("purged {purged} messages finished before retention", { purged });
    const overdue = await deps.store.countOpen(cutoff);
    deps.onOverdue?.(overdue);
    if (overdue > 0) {
      log.warn(
        "{overdue} deliveries received more than {days} days ago are still unfinished: kept, " +
          "not purged (paused or disabled destination? see GET /api/v1/messages?state=pending)",
        { overdue, days: Math.round(deps.retentionMs / 86_400_000 * 10) / 10 },
      );
    }
    return { purged, overdue };
  }

  function runOnce(): Promise<RetentionRun> {
    running ??= purgeOnce().finally(() => running = undefined);
    return running;
  }

  function tick() {
    runOnce().catch((err) =>
      log.error("retention purge failed: {error}", { error: (err as Error).message })
    );
  }

  return {
    start() {
      if (timer !== undefined) return;
      timer = setInterval(tick, deps.everyMs ?? PURGE_EVERY_MS);
      tick();
    },
    runOnce,
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => {});
    },
  };
}
