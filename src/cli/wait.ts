/**
 * `messages retry --failed --wait`: follows re-queued deliveries until each is final or the time
 * is up, drawing progress on stderr (a bar on a terminal, a line per change otherwise) so that
 * stdout stays the summary.
 *
 * @module
 */
import type { AdminClient } from "./client.ts";
import { UsageError } from "./common.ts";

/** `90s`, `5m`, `1h`, `250ms`, or a bare number of seconds, as milliseconds. */
export function parseDuration(text: string): number {
  const m = text.trim().match(/^(\d+(?:\.\d+)?)(ms|s|m|h)?$/);
  if (!m) throw new UsageError(`--timeout: expected a duration like 90s, 5m or 1h, got "${text}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
  return Math.round(Number(m[1]) * unit);
}

const FINAL = new Set(["sent", "permanent_failure", "unknown", "deduplicated"]);
/** Deliveries looked up at once: a fleet's admin API is not to be flooded. */
const PARALLEL = 8;
const POLL_MS = 500;

/** Where the re-queued deliveries ended up. */
export interface Settled {
  readonly sent: number;
  readonly failed: { msg_id: string; state: string; status_reason: string | null }[];
  /** Not final when the wait ended. */
  readonly open: string[];
  readonly timed_out: boolean;
  readonly summary: string;
}

/** The progress line: `[#####-----] 5/10 final: 4 sent, 1 failed`. */
export function progressLine(done: number, total: number, sent: number, failed: number): string {
  const width = 24;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} final: ` +
    `${sent} sent, ${failed} failed`;
}

/**
 * Polls each open delivery of `msgIds` to `destination` until all are final or `timeoutMs`
 * passes. Bounded: one round per {@linkcode POLL_MS} until the deadline.
 */
export async function waitForSettled(
  client: AdminClient,
  destination: string,
  msgIds: readonly string[],
  opts: { timeoutMs: number; progress: boolean },
): Promise<Settled> {
  const deadline = Date.now() + opts.timeoutMs;
  const open = new Set(msgIds);
  const failed: Settled["failed"] = [];
  let sent = 0;
  const tty = opts.progress && Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  let last = "";
  const draw = () => {
    if (!opts.progress) return;
    const text = progressLine(msgIds.length - open.size, msgIds.length, sent, failed.length);
    if (text === last) return;
    last = text;
    Deno.stderr.writeSync(encoder.encode(tty ? `\r${text}` : `${text}\n`));
  };
  draw();
  while (open.size > 0 && Date.now() < deadline) {
    const ids = [...open];
    for (let i = 0; i < ids.length && Date.now() < deadline; i += PARALLEL) {
      await Promise.all(
        ids.slice(i, i + PARALLEL).map(async (id) => {
          const m = await client.call("GET", `/messages/${encodeURIComponent(id)}`).catch(
            (err) => {
              // Purged meanwhile: nothing left to wait for.
              if ((err as { status?: number }).status === 404) return null;
              throw err;
            },
          );
          const d = m?.deliveries.find((x: { destination: string }) =>
            x.destination === destination
          );
          if (!d) {
            open.delete(id);
            failed.push({ msg_id: id, state: "gone", status_reason: "message purged" });
          } else if (FINAL.has(d.state)) {
            open.delete(id);
            if (d.state === "sent" || d.state === "deduplicated") sent++;
            else failed.push({ msg_id: id, state: d.state, status_reason: d.status_reason });
          }
        }),
      );
      draw();
    }
    if (open.size > 0) {
      await new Promise((r) =>
        setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now())))
      );
    }
  }
  if (tty && last) Deno.stderr.writeSync(encoder.encode("\n"));
  const timedOut = open.size > 0;
  const summary = [
    `${destination}: ${sent} sent, ${failed.length} failed${
      timedOut ? `, ${open.size} still open when the wait ended` : ""
    } (of ${msgIds.length} re-queued)`,
    ...failed.map((f) =>
      `  ${f.msg_id}: ${f.state}${f.status_reason ? `: ${f.status_reason}` : ""}`
    ),
    ...(timedOut
      ? [`  still open: ${[...open].slice(0, 20).join(", ")}${open.size > 20 ? ", …" : ""}`]
      : []),
  ].join("\n");
  return { sent, failed, open: [...open], timed_out: timedOut, summary };
}
