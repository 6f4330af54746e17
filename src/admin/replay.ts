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
import type { Sink } from "../sinks/sink.ts";
import type { MessageLog, Outbox } from "../store/store.ts";

/** The store roles a replay reads and writes. */
type ReplayStore = Pick<Outbox, "getBody"> & Pick<MessageLog, "retryFailed">;

/** What a replay did. */
export interface Replay {
  /** Messages whose delivery to the destination is pending again. */
  readonly requeued: string[];
  /** Left as they were: they cannot succeed as the destination is configured. */
  readonly skipped: { msg_id: string; reason: string }[];
}

/**
 * Why `msgId` cannot be delivered to `dest` as configured, or undefined when it may be: a preview
 * without a body means delivery would fail.
 */
async function blocker(
  store: Pick<Outbox, "getBody">,
  preview: NonNullable<Sink["preview"]>,
  msgId: string,
  receivedAt: number,
): Promise<string | undefined> {
  const body = await store.getBody(msgId);
  if (!body) return "message body is gone (purged?)";
  let envelope;
  try {
    envelope = EnvelopeSchema.parse(JSON.parse(new TextDecoder().decode(body)));
  } catch {
    return "the stored body is not a Coder message";
  }
  const p = preview({ msgId, envelope, receivedAt, attempt: 1 });
  return p.body === undefined ? p.note ?? "it would not be sent" : undefined;
}

/** Re-queues every `permanent_failure`/`unknown` delivery to `dest` that can succeed now. */
export async function replayFailed(
  store: ReplayStore,
  dest: Destination,
  now: number,
): Promise<Replay> {
  const skipped: Replay["skipped"] = [];
  const preview = dest.sink.preview?.bind(dest.sink);
  const requeued = await store.retryFailed(
    dest.id,
    now,
    preview
      ? async (d) => {
        const reason = await blocker(store, preview, d.msgId, d.receivedAt);
        if (reason) skipped.push({ msg_id: d.msgId, reason });
        return reason !== undefined;
      }
      : undefined,
  );
  return { requeued, skipped };
}
