/**
 * Subscriptions: destinations an operator adds through the admin API, in CloudTruth's webhook
 * shape (`{ name, event_types, type, configuration }`). Validated per type, stored in the relay's
 * store with their secrets, and shown with the secrets redacted. `destinations/set.ts` turns the
 * stored records into destinations.
 *
 * @module
 */
import { describeFilter, KNOWN_NOTIFICATIONS, normalizeName } from "../coder.ts";
import type { Destination } from "../destinations/destination.ts";
import { deliverySettingsJson } from "../destinations/delivery.ts";
import {
  type DestinationTypeName,
  destinationTypeOf,
  SECRET_FIELDS,
} from "../destinations/registry.ts";
import { invalidInput } from "../http/errors.ts";
import { issuesOf } from "../issues.ts";
import { redactUrl } from "../redact.ts";
import type { SubscriptionRecord } from "../store/store.ts";
import { SubscriptionBodySchema, SubscriptionPatchSchema } from "./schemas.ts";

/** What a valid request produces: the record's editable fields. */
export type SubscriptionFields = Pick<
  SubscriptionRecord,
  "name" | "type" | "eventTypes" | "configuration" | "enabled" | "organization" | "delivery"
>;

/**
 * Validates a full body (`POST`, `PUT`). With `current` (an update), secrets that are left out or
 * sent back in their redacted form keep their stored value, so a client may round-trip a `GET`.
 *
 * @throws {HttpError} 400 listing every issue with its field path.
 */
export function parseSubscription(
  body: unknown,
  current?: SubscriptionRecord,
): SubscriptionFields {
  const parsed = SubscriptionBodySchema.safeParse(body);
  if (!parsed.success) throw invalidInput("invalid_body", issuesOf(parsed.error));
  const b = parsed.data;
  const configuration = current?.type === b.type
    ? keepSecrets(b.type, b.configuration, current.configuration)
    : b.configuration;
  const config = destinationTypeOf(b.type)!.schema.safeParse(configuration);
  if (!config.success) {
    throw invalidInput("invalid_body", issuesOf(config.error, ["configuration"]));
  }
  return {
    name: b.name,
    type: b.type,
    eventTypes: b.event_types,
    configuration: config.data,
    enabled: b.enabled,
    organization: b.organization,
    ...(b.delivery ? { delivery: b.delivery } : {}),
  };
}

/** Applies a `PATCH` to a stored subscription and validates the result like a full body. */
export function patchSubscription(body: unknown, current: SubscriptionRecord): SubscriptionFields {
  const parsed = SubscriptionPatchSchema.safeParse(body);
  if (!parsed.success) throw invalidInput("invalid_body", issuesOf(parsed.error));
  const p = parsed.data;
  const sameType = p.type === undefined || p.type === current.type;
  const configuration: Record<string, unknown> = sameType ? { ...current.configuration } : {};
  const kept: Record<string, unknown> = { ...current.configuration };
  for (const [key, value] of Object.entries(p.configuration ?? {})) {
    if (value === null) {
      // An explicit null removes the key, secrets included: nothing to keep.
      delete configuration[key];
      delete kept[key];
    } else configuration[key] = value;
  }
  return parseSubscription({
    name: p.name ?? current.name,
    event_types: p.event_types ?? current.eventTypes,
    type: p.type ?? current.type,
    configuration,
    enabled: p.enabled ?? current.enabled,
    organization: p.organization ?? current.organization,
    // Replaced whole when sent (null removes it), kept otherwise.
    delivery: p.delivery === undefined ? storedDelivery(current) : p.delivery,
  }, { ...current, configuration: kept });
}

/** A stored subscription's delivery settings in the body's shape, to validate again. */
function storedDelivery(sub: SubscriptionRecord): Record<string, unknown> | undefined {
  return sub.delivery ? deliverySettingsJson(sub.delivery) : undefined;
}

/** Configuration URLs shown with their credentials redacted. */
const URL_FIELDS = ["url", "api_url"];

function keepSecrets(
  type: DestinationTypeName,
  next: Record<string, unknown>,
  stored: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out = { ...next };
  for (const field of SECRET_FIELDS[type]) {
    if (stored[field] !== undefined) out[field] = keepSecret(out[field], stored[field]);
  }
  for (const field of URL_FIELDS) {
    const url = stored[field];
    if (typeof url === "string" && out[field] === redactUrl(url)) out[field] = url;
  }
  return out;
}

/** The stored value where `next` is absent or the redacted form of it; string maps key by key. */
function keepSecret(next: unknown, stored: unknown): unknown {
  if (next === undefined) return stored;
  if (typeof stored === "string") return next === redact(stored) ? stored : next;
  if (isRecord(stored) && isRecord(next)) {
    return Object.fromEntries(
      Object.entries(next).map((
        [k, v],
      ) => [k, stored[k] === undefined ? v : keepSecret(v, stored[k])]),
    );
  }
  return next;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A secret field as the API shows it: strings redacted, string maps (headers) value by value. */
function redactValue(v: unknown): unknown {
  if (typeof v === "string") return redact(v);
  return isRecord(v)
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactValue(x)]))
    : v;
}

/** A secret as the API shows it: its last three characters, enough to tell two apart. */
export function redact(secret: string): string {
  return secret.length >= 12 ? `…${secret.slice(-3)}` : "…";
}

/** Names in `eventTypes` that Coder does not ship: worth a warning, since a typo means silence. */
export function unknownEventWarnings(eventTypes: readonly string[]): string[] {
  const known = new Set(KNOWN_NOTIFICATIONS.map(normalizeName));
  return eventTypes.flatMap((name, i) =>
    name === "*" || known.has(normalizeName(name))
      ? []
      : [`event_types.${i}: "${name}" is not a notification Coder ships; check the spelling`]
  );
}

/** A subscription as the API returns it: secrets redacted, CloudTruth's field names. */
export function subscriptionJson(sub: SubscriptionRecord): Record<string, unknown> {
  const configuration: Record<string, unknown> = { ...sub.configuration };
  for (const field of SECRET_FIELDS[sub.type as DestinationTypeName] ?? []) {
    if (configuration[field] !== undefined) {
      configuration[field] = redactValue(configuration[field]);
    }
  }
  // A URL's password and `?token=` are credentials even where the URL itself is not secret.
  for (const field of URL_FIELDS) {
    const value = configuration[field];
    if (typeof value === "string" && value.startsWith("http")) {
      configuration[field] = redactUrl(value);
    }
  }
  return {
    id: sub.id,
    name: sub.name,
    type: sub.type,
    event_types: sub.eventTypes,
    configuration,
    enabled: sub.enabled,
    ...(sub.organization ? { organization: sub.organization } : {}),
    ...(sub.delivery ? { delivery: deliverySettingsJson(sub.delivery) } : {}),
    source: "api",
    read_only: false,
    created_at: new Date(sub.createdAt).toISOString(),
    updated_at: new Date(sub.updatedAt).toISOString(),
  };
}

/** An environment-defined destination in the same shape, marked read-only; nothing secret in it. */
export function configuredDestinationJson(d: Destination): Record<string, unknown> {
  return {
    id: d.id,
    name: d.id,
    type: d.type,
    event_types: describeFilter(d.events),
    configuration: {},
    enabled: d.enabled,
    ...(d.delivery ? { delivery: deliverySettingsJson(d.delivery) } : {}),
    source: d.source,
    read_only: true,
    ...(d.description ? { description: d.description } : {}),
  };
}

/**
 * The fields an update changed, by their API names; configuration keys by name alone, so the
 * operator log says what changed without ever showing a value (they may be secrets).
 */
export function changedFields(before: SubscriptionFields, after: SubscriptionFields): string[] {
  const out: string[] = [];
  if (before.name !== after.name) out.push("name");
  if (before.type !== after.type) out.push("type");
  if (JSON.stringify(before.eventTypes) !== JSON.stringify(after.eventTypes)) {
    out.push("event_types");
  }
  if (before.enabled !== after.enabled) out.push("enabled");
  if (before.organization !== after.organization) out.push("organization");
  if (JSON.stringify(before.delivery) !== JSON.stringify(after.delivery)) out.push("delivery");
  const keys = new Set([...Object.keys(before.configuration), ...Object.keys(after.configuration)]);
  for (const key of [...keys].sort()) {
    if (JSON.stringify(before.configuration[key]) !== JSON.stringify(after.configuration[key])) {
      out.push(`configuration.${key}`);
    }
  }
  return out;
}
