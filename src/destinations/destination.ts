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
 * The destinations a message goes to: enabled, subscribed to its name, and, for messages carrying a
 * secret, only those allowed to carry it (a DM to the recipient).
 */
export function route(destinations: readonly Destination[], envelope: Envelope): Destination[] {
  const secret = isSecretMessage(envelope.payload);
  return destinations.filter((d) =>
    d.enabled && matchesFilter(d.events, envelope.payload.notification_name) &&
    (!secret || d.sink.allowsSecrets)
  );
}
