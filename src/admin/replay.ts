/**
 * Replaying a destination's failed deliveries (`POST /api/v1/messages/retry`). Each given-up
 * delivery is first checked against the destination as it is configured now, with the sink's
 * offline preview: one that cannot succeed (PlatformX with no subject email and the Coder lookup
 * off, say) is reported with the reason instead of being re-queued to fail again.
 *
 * @module
 */
import { EnvelopeSchema } from "../coder.ts";
import type { Destination } from "../destinations/destination.ts";
import { GIVEN_UP_STATES, type Store } from "../store/store.ts";

/** Messages read per page while collecting the failed deliveries. */
const PAGE = 500;
/** A bound on the pages one replay reads (each ends early only when the store says so). */
const MAX_PAGES = 10_000;

/** What a replay did. */
export interface Replay {
  /** Messages whose delivery to the destination is pending again. */
  readonly requeued: string[];
  /** Left as they were: they cannot succeed as the destination is configured. */
  readonly skipped: { msg_id: string; reason: string }[];
}

/**
 * Why `msgId` cannot be delivered to `dest` as configured, or undefined when it may be. Only a
 * sink with a preview can tell; a preview without a body means delivery would fail.
 */
async function blocker(
  store: Store,
  dest: Destination,
  msgId: string,
  receivedAt: number,
): Promise<string | undefined> {
  if (!dest.sink.preview) return undefined;
  const body = await store.getBody(msgId);
  if (!body) return "message body is gone (purged?)";
  let envelope;
  try {
    envelope = EnvelopeSchema.parse(JSON.parse(new TextDecoder().decode(body)));
  } catch {
    return "the stored body is not a Coder message";
  }
  const preview = dest.sink.preview({ msgId, envelope, receivedAt, attempt: 1 });
  return preview.body === undefined ? preview.note ?? "it would not be sent" : undefined;
}

/** Re-queues every `permanent_failure`/`unknown` delivery to `dest` that can succeed now. */
export async function replayFailed(store: Store, dest: Destination, now: number): Promise<Replay> {
  const candidates: { msgId: string; receivedAt: number }[] = [];
  for (const state of GIVEN_UP_STATES) {
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const found = await store.listMessages({ destination: dest.id, state }, {
        cursor,
        limit: PAGE,
      });
      for (const m of found.items) {
        candidates.push({ msgId: m.message.msgId, receivedAt: m.message.receivedAt });
      }
      if (!found.cursor) break;
      cursor = found.cursor;
    }
  }
  const requeued: string[] = [];
  const skipped: Replay["skipped"] = [];
  for (const c of candidates) {
    const reason = await blocker(store, dest, c.msgId, c.receivedAt);
    if (reason) skipped.push({ msg_id: c.msgId, reason });
    else if ((await store.retry(c.msgId, dest.id, now)).length > 0) requeued.push(c.msgId);
  }
  return { requeued, skipped };
}
