/**
 * One attempt at one leased delivery: load the body, hand it to the sink, time it. Never throws
 * for the destination's sake: a sink that throws is a failure like any other, worded as one.
 *
 * @module
 */
import { type Destination, mayCarry } from "../destinations/destination.ts";
import type { SendResult } from "../sinks/sink.ts";
import type { Lease } from "../store/store.ts";
import type { Clock } from "./clock.ts";
import type { EnvelopeCache } from "./envelopes.ts";

/** What came of an attempt, before the policy decides what it means. */
export interface Attempted {
  readonly result: SendResult;
  readonly latencyMs: number;
  /** False when nothing was sent (an expired lease settled as `unknown`). */
  readonly counts: boolean;
}

/** Why an expired lease is settled as `unknown` rather than resent. */
export const INTERRUPTED_REASON =
  "an earlier attempt was interrupted mid-send (lease expired); not resent " +
  "because the destination cannot dedupe: replay it if the event is missing";

/**
 * Why a message with a secret is not sent: the destination changed since it was accepted (edited
 * from a DM to a channel or a webhook, or restarted with `SLACK_CHANNEL`). Names no passcode.
 */
export const SECRET_REFUSED_REASON =
  "not sent: a One-Time Passcode may only leave as a Slack DM to its recipient, " +
  "and this destination is no longer one";

/**
 * Makes one attempt at `lease` to `dest`. A message with a secret is checked against the
 * destination as it is now, not as it was when the message was accepted.
 */
export async function attempt(
  dest: Destination,
  lease: Lease,
  envelopes: Pick<EnvelopeCache, "get">,
  clock: Clock,
): Promise<Attempted> {
  const d = lease.delivery;
  if (lease.expired && !dest.sink.idempotent) {
    // A worker died (or stalled) holding this lease: the request may have gone out.
    return {
      result: { state: "unknown", reason: INTERRUPTED_REASON },
      latencyMs: 0,
      counts: false,
    };
  }
  const started = clock.now();
  let result: SendResult;
  const loaded = await envelopes.get(d.msgId);
  if (!loaded) {
    result = { state: "permanent_failure", reason: "message body is gone (purged?)" };
  } else if (!mayCarry(dest, loaded.envelope)) {
    result = { state: "permanent_failure", reason: SECRET_REFUSED_REASON, notSent: true };
  } else {
    try {
      result = await dest.sink.send({
        msgId: d.msgId,
        envelope: loaded.envelope,
        receivedAt: d.receivedAt,
        attempt: d.attempts + 1,
        body: loaded.text,
      });
    } catch (err) {
      result = {
        state: dest.sink.idempotent ? "temporary_failure" : "unknown",
        reason: `sink error: ${(err as Error).message}`,
      };
    }
  }
  return { result, latencyMs: clock.now() - started, counts: true };
}
