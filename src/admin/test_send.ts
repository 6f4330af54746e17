/**
 * Synthetic test notifications: what `POST /api/v1/webhooks/{id}/test` and `main.ts send-test`
 * send, straight through a destination's sink and outside the store, so an operator learns at once
 * whether credentials and routing work without waiting for a real Coder event.
 *
 * @module
 */
import type { Envelope } from "../coder.ts";
import type { Destination } from "../destinations/destination.ts";
import type { SendResult } from "../sinks/sink.ts";

/** Who the test is about (PlatformX attributes events to this email). */
export const DEFAULT_TEST_EMAIL = "coder-relay-test@example.com";

/** A Coder "Test Notification" as Coder itself renders it, addressed to `email`. */
export function testEnvelope(now: number, email = DEFAULT_TEST_EMAIL): Envelope {
  const msgId = crypto.randomUUID();
  return {
    _version: "1.1",
    msg_id: msgId,
    payload: {
      _version: "1.1",
      notification_name: "Test Notification",
      notification_template_id: "c425f63e-716a-4bf4-ae24-78348f706c3f",
      user_id: "00000000-0000-0000-0000-000000000000",
      user_email: email,
      user_name: "coder-relay",
      user_username: "coder-relay",
      actions: [],
      labels: { source: "coder-relay", sent_at: new Date(now).toISOString() },
      data: null,
    },
    title: "A test notification",
    title_markdown: "A test notification",
    body: "This is a test notification sent by coder-relay.",
    body_markdown: "This is a test notification sent by coder-relay.",
  };
}

/** The outcome of a test send, in the API's field names. */
export interface TestOutcome {
  readonly destination: string;
  readonly msg_id: string;
  readonly state: SendResult["state"];
  readonly status_code?: number;
  readonly status_reason?: string;
  readonly latency_ms: number;
}

/** Sends one test notification to `dest` and reports what happened; never throws. */
export async function sendTest(
  dest: Destination,
  now: () => number,
  email?: string,
): Promise<TestOutcome> {
  const envelope = testEnvelope(now(), email);
  const started = performance.now();
  let result: SendResult;
  try {
    result = await dest.sink.send({
      msgId: envelope.msg_id,
      envelope,
      receivedAt: now(),
      attempt: 1,
    });
  } catch (err) {
    result = { state: "permanent_failure", reason: `sink error: ${(err as Error).message}` };
  }
  return {
    destination: dest.id,
    msg_id: envelope.msg_id,
    state: result.state,
    status_code: result.status,
    status_reason: result.state === "sent" ? result.detail : result.reason,
    latency_ms: Math.round(performance.now() - started),
  };
}
