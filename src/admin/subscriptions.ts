/**
 * Subscriptions: destinations an operator adds through the admin API, in CloudTruth's webhook
 * shape (`{ name, event_types, type, configuration }`). Validated per type, stored in the relay's
 * store with their secrets, and shown with the secrets redacted. {@linkcode createDestinationSet}
 * merges them with the environment's destinations for the receiver and the worker, without a
 * restart and across replicas.
 *
 * @module
 */
import { describeFilter, KNOWN_NOTIFICATIONS, normalizeName, parseEventFilter } from "../coder.ts";
import type { Destination } from "../destinations.ts";
import { SECRET_FIELDS, SINK_CONFIG_SCHEMAS, type SinkType } from "../sink_config.ts";
import { invalidInput } from "../http/errors.ts";
import { issuesOf } from "../issues.ts";
import { logger } from "../log.ts";
import type { Sink } from "../sinks/sink.ts";
import { type Store, StoreUnavailableError, type SubscriptionRecord } from "../store/store.ts";
import { SubscriptionBodySchema, SubscriptionPatchSchema } from "./schemas.ts";

/** What a valid request produces: the record's editable fields. */
export type SubscriptionFields = Pick<
  SubscriptionRecord,
  "name" | "type" | "eventTypes" | "configuration" | "enabled" | "organization"
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
  const config = SINK_CONFIG_SCHEMAS[b.type].safeParse(configuration);
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
  }, { ...current, configuration: kept });
}

function keepSecrets(
  type: SinkType,
  next: Record<string, unknown>,
  stored: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out = { ...next };
  for (const field of SECRET_FIELDS[type]) {
    if (stored[field] !== undefined) out[field] = keepSecret(out[field], stored[field]);
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
  for (const field of SECRET_FIELDS[sub.type as SinkType] ?? []) {
    if (configuration[field] !== undefined) {
      configuration[field] = redactValue(configuration[field]);
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
    source: d.source,
    read_only: true,
    ...(d.description ? { description: d.description } : {}),
  };
}

/** The destinations in force: the environment's, then the API's. */
export interface DestinationSet {
  /** Fresh enough: returned at once; stale (older than `refreshMs`): re-read from the store first. */
  list(): readonly Destination[] | Promise<readonly Destination[]>;
  /** Reads subscriptions again, from a read that starts after this call (after an API change). */
  reload(): Promise<readonly Destination[]>;
  /** The environment's destinations. */
  readonly configured: readonly Destination[];
}

/** What {@linkcode createDestinationSet} needs. */
export interface DestinationSetDeps {
  readonly configured: readonly Destination[];
  readonly store: Store;
  /** Builds a subscription's sink; may throw for a type this build cannot deliver to. */
  readonly build: (sub: SubscriptionRecord) => Sink;
  readonly now: () => number;
  /** How long a read of the subscriptions is trusted: the delay before another replica's change. */
  readonly refreshMs?: number;
}

const log = logger("subscriptions");

/** Keeps the merged list; sinks are rebuilt only when their subscription changes. */
export function createDestinationSet(deps: DestinationSetDeps): DestinationSet {
  const refreshMs = deps.refreshMs ?? 5000;
  const built = new Map<string, { updatedAt: number; destination?: Destination }>();
  let current: readonly Destination[] | undefined;
  let loadedAt = 0;
  let loading: Promise<readonly Destination[]> | undefined;
  let queued: Promise<readonly Destination[]> | undefined;
  /** Queues of deleted subscriptions being closed: apart from reads, so webhooks never wait. */
  let closing: Promise<unknown> = Promise.resolve();

  function toDestination(sub: SubscriptionRecord): Destination | undefined {
    const cached = built.get(sub.id);
    if (cached?.updatedAt === sub.updatedAt) return cached.destination;
    let destination: Destination | undefined;
    try {
      destination = {
        id: sub.id,
        type: sub.type,
        events: parseEventFilter(sub.eventTypes),
        enabled: sub.enabled,
        source: "api",
        description: sub.name,
        sink: deps.build(sub),
      };
    } catch (err) {
      log.warn("subscription {id} ({type}) is not delivered: {error}", {
        id: sub.id,
        type: sub.type,
        error: (err as Error).message,
      });
    }
    built.set(sub.id, { updatedAt: sub.updatedAt, destination });
    return destination;
  }

  async function load(): Promise<readonly Destination[]> {
    // A store that cannot be read cannot take the webhook either: 503, so that Coder retries.
    const subs = await deps.store.listSubscriptions().catch((err) => {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`cannot read webhook subscriptions: ${err.message}`, {
        cause: err,
      });
    });
    const ids = new Set(subs.map((s) => s.id));
    const removed = [...built.keys()].filter((id) => !ids.has(id));
    for (const id of removed) built.delete(id);
    const fromApi = subs.flatMap((s) => toDestination(s) ?? []);
    current = [...deps.configured, ...fromApi];
    loadedAt = deps.now();
    // Deleted, here or on another replica: from now on this process queues nothing more for it,
    // so what it still has queued can be closed instead of waiting for the retention purge.
    if (removed.length > 0) closing = Promise.all([closing, ...removed.map(closeQueued)]);
    return current;
  }

  async function closeQueued(id: string) {
    try {
      const closed = await deps.store.closeDeliveries(id, deps.now());
      if (closed > 0) {
        log.info("closed {closed} open deliveries to deleted subscription {id}", { closed, id });
      }
    } catch (err) {
      log.warn("could not close the open deliveries to deleted subscription {id}: {error}", {
        id,
        error: (err as Error).message,
      });
    }
  }

  function read(): Promise<readonly Destination[]> {
    const started: Promise<readonly Destination[]> = load().finally(() => {
      if (loading === started) loading = undefined;
    });
    loading = started;
    return started;
  }

  /**
   * A read already under way may have begun before the caller's change, so it is not joined: one
   * more read is queued behind it, shared by every caller that arrives meanwhile.
   */
  function readAfterNow(): Promise<readonly Destination[]> {
    if (!loading) return read();
    queued ??= loading.catch(() => {}).then(() => {
      queued = undefined;
      // Any read started since then began after every change this queue stands for.
      return loading ?? read();
    });
    return queued;
  }

  /** A fresh read; once it resolves, a deletion it saw has closed its queue too. */
  async function reload(): Promise<readonly Destination[]> {
    const list = await readAfterNow();
    await closing;
    return list;
  }

  return {
    configured: deps.configured,
    list() {
      return current && deps.now() - loadedAt < refreshMs ? current : loading ?? read();
    },
    reload,
  };
}
