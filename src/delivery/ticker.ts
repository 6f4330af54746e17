/**
 * When the delivery loop runs: a timer at the poll interval, sooner when asked, never two runs at
 * once (a request during a run makes it go round once more). A timer, not a KV queue, so it runs
 * the same on Deno Deploy (which has no `listenQueue`).
 *
 * @module
 */
import type { Clock } from "./clock.ts";

/** A self-scheduling loop around one async step. */
export interface Ticker {
  /** Starts the timer. */
  start(): void;
  /** Runs the step within `delayMs` (0: as soon as possible). Nothing before `start()`. */
  soon(delayMs?: number): void;
  /** Runs the step now, or joins the run under way (which then goes round once more). */
  run(): Promise<void>;
  /** Whether the timer is more than `lateMs` overdue, as where the platform freezes idle timers. */
  isLate(lateMs: number): boolean;
  /** Stops the timer and waits for the run under way. */
  stop(): Promise<void>;
}

/**
 * Creates a ticker around `step`, which returns true when it may have left work (then the next run
 * comes at once) and must not throw (errors are `onError`'s).
 */
export function createTicker(
  step: () => Promise<boolean>,
  opts: {
    readonly clock: Clock;
    readonly pollMs: number;
    readonly onError: (err: unknown) => void;
  },
): Ticker {
  const { clock, pollMs } = opts;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Infinity;
  let running: Promise<void> | undefined;
  let again = false;
  let state: "idle" | "started" | "stopped" = "idle";

  function soon(delayMs = 0) {
    if (state !== "started") return;
    const at = clock.now() + delayMs;
    if (timer !== undefined && timerAt <= at) return;
    if (timer !== undefined) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Infinity;
      void run();
    }, delayMs);
  }

  function run(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let more = false;
      try {
        do {
          again = false;
          more = await step() || more;
        } while (again && state !== "stopped");
      } catch (err) {
        opts.onError(err);
      } finally {
        running = undefined;
        soon(more ? 0 : pollMs);
      }
    })();
    return running;
  }

  return {
    start() {
      if (state !== "idle") return;
      state = "started";
      soon(0);
    },
    soon,
    run,
    isLate: (lateMs) => state === "started" && !running && timerAt < clock.now() - lateMs,
    async stop() {
      state = "stopped";
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
