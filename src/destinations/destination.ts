/**
 * A destination: one place messages go, with the rules for which messages it gets. Routing a
 * message is a pure function of the message and the list.
 *
 * @module
 */
import { type Envelope, type EventFilter, isSecretMessage, matchesFilter } from "../coder.ts";
import type { Sink } from "../sinks/sink.ts";
import type { DeliverySettings } from "./delivery.ts";

/** One place messages go. `id` keys its delivery records: keep it stable across restarts. */
export interface Destination {
  readonly id: string;
  readonly type: string;
  readonly events: EventFilter;
  readonly enabled: boolean;
  /** Where it was defined: environment variables, the config file, or the admin API. */
  readonly source: "env" | "config" | "api";
  /** A human note, e.g. "dry run". */
  readonly description?: string;
  /** Its own concurrency, rate limit and retry schedule; absent: the relay-wide defaults. */
  readonly delivery?: DeliverySettings;
  readonly sink: Sink;
}

/**
 * Whether `d` may carry `envelope`: a message with a secret (a One-Time Passcode) only to a sink
 * that delivers it to its own recipient (a Slack DM), anything else anywhere. Checked when a
 * message is routed and again when it is sent, since a destination can change in between.
 */
export function mayCarry(d: Pick<Destination, "sink">, envelope: Envelope): boolean {
  return d.sink.allowsSecrets || !isSecretMessage(envelope.payload);
}

/**
 * The destinations a message goes to: enabled, subscribed to its name, and allowed to carry it
 * ({@linkcode mayCarry}).
 */
export function route(destinations: readonly Destination[], envelope: Envelope): Destination[] {
  return destinations.filter((d) =>
    d.enabled && matchesFilter(d.events, envelope.payload.notification_name) &&
    mayCarry(d, envelope)
  );
}
