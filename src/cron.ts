/**
 * Deno Deploy wake-ups: Deploy runs code only while requests arrive, so a retry due while the app
 * is idle would wait for the next webhook. Where the runtime offers `Deno.cron` (Deploy does; a
 * local `deno run` has it only with `--unstable-cron`, which the relay does not need), a job
 * registered when this module loads runs the delivery loop once a minute. Deploy discovers cron
 * jobs only at module top level, hence the import from `main.ts` rather than a call from `serve`.
 * Elsewhere this module does nothing and the worker's own timer does the work.
 *
 * @module
 */

type CronFn = (name: string, schedule: string, handler: () => Promise<void>) => Promise<void>;

/** How long a cron run waits for `serve` to hand over its worker (a cold isolate is starting). */
const WAIT_FOR_WORKER_MS = 30_000;

let drain: (() => Promise<void>) | undefined;
let ready: () => void = () => {};
const started = new Promise<void>((resolve) => ready = resolve);

/** Hands the running relay's drain step (one worker tick, sends awaited) to the cron job. */
export function setCronDrain(fn: (() => Promise<void>) | undefined): void {
  drain = fn;
  if (fn) ready();
}

/** The job's body: waits (bounded) for the relay to be serving, then drains due deliveries. */
export async function runCronDrain(waitMs = WAIT_FOR_WORKER_MS): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([started, new Promise((r) => timer = setTimeout(r, waitMs))]);
  clearTimeout(timer);
  if (!drain) return false;
  await drain();
  return true;
}

/** Whether this runtime offers `Deno.cron` (and so whether the job below was registered). */
export const cronAvailable = typeof (Deno as unknown as { cron?: unknown }).cron === "function";

if (cronAvailable) {
  const cron = (Deno as unknown as { cron: CronFn }).cron;
  void cron("coder-relay: deliver due retries", "* * * * *", async () => {
    await runCronDrain();
  });
}
