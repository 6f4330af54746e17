/**
 * What each destination would receive for one Coder message, worked out offline: the same
 * routing and rendering as delivery, no network call. `transform` (CLI) and `POST /api/v1/preview`
 * (admin API) both print this, so an operator sees exactly what a Teams card, Slack blocks, a
 * template's output or a PlatformX event will look like before anything is sent.
 *
 * @module
 */
import type { Envelope } from "../coder.ts";
import { type Destination, mayCarry, route } from "./destination.ts";

/** One destination's preview. `body`/`headers` as it would be sent; `note` says what else applies. */
export interface DestinationPreview {
  readonly destination: string;
  readonly type: string;
  readonly routed: boolean;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly note?: string;
}

/**
 * The preview for one destination. A message it would not get shows why, and its body only when
 * `always` is set (a preview asked for this destination); a One-Time Passcode never shows a body
 * for a destination that may not carry it.
 */
export function previewDestination(
  d: Destination,
  envelope: Envelope,
  receivedAt: number,
  always = false,
): DestinationPreview {
  const head = { destination: d.id, type: d.type };
  const routed = route([d], envelope).length > 0;
  if (!mayCarry(d, envelope)) {
    return {
      ...head,
      routed: false,
      note: "a one-time passcode: it only ever goes as a Slack DM to its recipient, never here",
    };
  }
  const why = routed
    ? undefined
    : !d.enabled
    ? "this destination is disabled"
    : `not subscribed to "${envelope.payload.notification_name}"`;
  if (why && !always) return { ...head, routed: false, note: why };
  const preview = d.sink.preview?.({ msgId: envelope.msg_id, envelope, receivedAt, attempt: 1 }) ??
    { note: "this destination has no offline preview" };
  const note = [why && `not routed: ${why}`, preview.note].filter(Boolean).join("; ");
  return {
    ...head,
    routed,
    ...(preview.body !== undefined ? { body: preview.body } : {}),
    ...(preview.headers ? { headers: preview.headers } : {}),
    ...(note ? { note } : {}),
  };
}

/** The preview for every destination, as the relay would route the message. */
export function previewAll(
  destinations: readonly Destination[],
  envelope: Envelope,
  receivedAt: number,
): DestinationPreview[] {
  return destinations.map((d) => previewDestination(d, envelope, receivedAt));
}

/** A preview as people read it: one section per destination. */
export function formatPreviews(previews: readonly DestinationPreview[]): string {
  return previews.map((p) =>
    [
      `== ${p.destination} (${p.type})${p.routed ? "" : ": not routed here"}`,
      ...(p.note ? [`note: ${p.note}`] : []),
      ...Object.entries(p.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      ...(p.body !== undefined ? [JSON.stringify(p.body, null, 2)] : []),
    ].join("\n")
  ).join("\n\n");
}
