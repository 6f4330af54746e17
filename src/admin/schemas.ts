/**
 * The admin API's shapes as zod schemas: the request schemas validate what clients send, and the
 * same schemas (with the response ones) are what {@linkcode buildOpenApi} turns into the OpenAPI
 * document, so the description cannot drift from the checks.
 *
 * @module
 */
import { z } from "zod";
import { DeliverySettingsJson, DeliverySettingsSchema } from "../destinations/delivery.ts";
import { TYPE_NAMES } from "../destinations/registry.ts";
import type { DeliveryState } from "../store/store.ts";

/** Every delivery state, in the order the API documents them. */
export const STATES = [
  "pending",
  "leased",
  "sent",
  "temporary_failure",
  "permanent_failure",
  "unknown",
  "deduplicated",
] as const satisfies readonly DeliveryState[];

/** A time as ISO 8601 or ms since epoch. */
const time = z.string().trim().transform((s, ctx) => {
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: "custom", message: "expected an ISO 8601 time or ms since epoch" });
    return z.NEVER;
  }
  return ms;
}).meta({ description: "ISO 8601 time or milliseconds since the epoch" });

/** `limit` and `cursor`: the query of every cursor-paged list. */
export const PageQuery = {
  limit: z.string().regex(/^\d+$/, "expected a whole number").transform(Number)
    .pipe(z.number().int().min(1).max(500)).default(50)
    .meta({ description: "Items per page, 1 to 500" }),
  cursor: z.string().min(1).optional()
    .meta({ description: "`next_cursor` of the previous page" }),
};

/** `GET /messages` query parameters. */
export const MessageQuerySchema = z.object({
  state: z.enum(STATES, { error: `expected one of ${STATES.join(", ")}` }).optional(),
  destination: z.string().trim().min(1).optional(),
  event: z.string().trim().min(1).optional(),
  since: time.optional(),
  until: time.optional(),
  ...PageQuery,
});

/** `GET /stats` query parameters. */
export const StatsQuerySchema = z.object({
  minutes: z.string().regex(/^\d+$/, "expected a whole number").transform(Number)
    .pipe(z.number().int().min(1).max(1440)).default(1440)
    .meta({ description: "How many minutes back the per-minute series reaches (at most 1440)" }),
});

/** An optional destination: the body of pause, resume and single-message retry. */
export const TargetSchema = z.object({ destination: z.string().trim().min(1).optional() });
/** `POST /messages/retry`. */
export const RetryFailedSchema = z.object({
  destination: z.string().trim().min(1, "must not be empty"),
});
/** `POST /messages/purge`. */
export const PurgeSchema = z.object({
  older_than_days: z.number().min(0, "must not be negative"),
});
/** `POST /webhooks/{id}/test`. */
export const TestSendSchema = z.object({
  email: z.email("expected an email address").optional(),
});

/** The body of `POST`/`PUT /webhooks/` before per-type checks. */
export const SubscriptionBodySchema = z.object({
  name: z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters"),
  event_types: z.array(z.string().trim().min(1, "must not be empty")).min(
    1,
    'list at least one notification name, or "*" for all',
  ),
  type: z.enum(TYPE_NAMES, { error: `expected one of ${TYPE_NAMES.join(", ")}` }),
  configuration: z.record(z.string(), z.unknown())
    .meta({ description: "Per type; secrets are write-only (returned redacted)" }),
  enabled: z.boolean().default(true),
  /** Its own concurrency, rate limit and retry schedule; null or absent: the relay's defaults. */
  delivery: DeliverySettingsSchema.nullable().optional().meta({
    description: "Per-destination concurrency, rate limit (requests/s) and retry schedule (ms)",
  }),
  /** Accepted for CloudTruth compatibility, never required. */
  organization: z.string().trim().optional(),
});

/** The same fields, all optional, for `PATCH`. `configuration` keys merge; `null` removes one. */
export const SubscriptionPatchSchema = SubscriptionBodySchema.partial().extend({
  enabled: z.boolean().optional(),
});

// Responses: documentation only, checked against real answers by the test suite.
const isoTime = z.iso.datetime();
const nullable = <T extends z.ZodType>(s: T) => s.nullable();

/** Every error answer. */
export const ErrorSchema = z.object({
  error: z.string().meta({ description: "Stable machine-readable code, e.g. invalid_body" }),
  message: z.string(),
  details: z.unknown().optional(),
}).meta({ id: "Error" });

/** One attempt of a delivery. */
export const AttemptSchema = z.object({
  at: isoTime,
  state: z.enum(STATES),
  status_code: nullable(z.int()),
  latency_ms: z.number(),
  status_reason: nullable(z.string()),
}).meta({ id: "Attempt" });

/** A delivery; `history` only on the single-message view. */
export const DeliverySchema = z.object({
  destination: z.string(),
  state: z.enum(STATES),
  attempts: z.int(),
  next_attempt_at: nullable(isoTime),
  updated_at: isoTime,
  status_reason: nullable(z.string()),
  history: z.array(AttemptSchema).optional(),
}).meta({ id: "Delivery" });

/** A message's summary with its deliveries; never its content. */
export const MessageSchema = z.object({
  msg_id: z.string(),
  event: z.string(),
  received_at: isoTime,
  size: z.int(),
  deliveries: z.array(DeliverySchema),
}).meta({ id: "Message" });

/**
 * The one list shape: the items under their plural name and `next_cursor`, null on the last page.
 * Pass it back as `?cursor=` for the next page.
 */
export function pageOf<K extends string, T extends z.ZodType>(key: K, item: T, id: string) {
  return z.object(
    { [key]: z.array(item), next_cursor: z.string().nullable() } as
      & {
        [P in K]: z.ZodArray<T>;
      }
      & { next_cursor: z.ZodNullable<z.ZodString> },
  ).meta({ id });
}

/** `GET /messages`. */
export const MessagePageSchema = pageOf("messages", MessageSchema, "MessagePage");

/** A destination in CloudTruth's subscription shape (environment-defined ones are read-only). */
export const SubscriptionSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  event_types: z.array(z.string()),
  configuration: z.record(z.string(), z.unknown()),
  enabled: z.boolean(),
  organization: z.string().optional(),
  delivery: DeliverySettingsJson.optional(),
  source: z.enum(["env", "config", "api"]),
  read_only: z.boolean(),
  description: z.string().optional(),
  created_at: isoTime.optional(),
  updated_at: isoTime.optional(),
  warnings: z.array(z.string()).optional(),
}).meta({ id: "Subscription" });

/** `GET /webhooks/`: CloudTruth's DRF list, kept for compatibility (never paged). */
export const SubscriptionListSchema = z.object({
  count: z.int(),
  next: z.null(),
  previous: z.null(),
  results: z.array(SubscriptionSchema),
}).meta({ id: "SubscriptionList" });

/** `POST /webhooks/{id}/test`. */
export const TestOutcomeSchema = z.object({
  ok: z.boolean(),
  destination: z.string(),
  msg_id: z.string(),
  state: z.enum(["sent", "temporary_failure", "permanent_failure", "unknown"]),
  status_code: z.int().optional(),
  status_reason: z.string().optional(),
  latency_ms: z.number(),
}).meta({ id: "TestOutcome" });

/** Pause switches. */
export const PauseSchema = z.object({
  paused: z.boolean(),
  paused_destinations: z.array(z.string()),
  disabled_destinations: z.record(z.string(), z.object({ reason: z.string(), at: isoTime }))
    .meta({ description: "Destinations a sink reported gone; held until edited or resumed" }),
  updated_at: nullable(isoTime),
}).meta({ id: "Pause" });

/** One destination's offline preview: what it would be sent, or why not. */
export const DestinationPreviewSchema = z.object({
  destination: z.string(),
  type: z.string(),
  routed: z.boolean(),
  body: z.unknown().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  note: z.string().optional(),
}).meta({ id: "DestinationPreview" });
/** `POST /preview`. */
export const PreviewResultSchema = z.object({
  msg_id: z.string(),
  destinations: z.array(DestinationPreviewSchema),
}).meta({ id: "PreviewResult" });

/** `POST /messages/retry`. */
export const RetryFailedResultSchema = z.object({
  destination: z.string(),
  /** How many deliveries went back to `pending`. */
  requeued: z.int(),
  /** The messages those deliveries belong to. */
  msg_ids: z.array(z.string()),
  /** Failed deliveries left as they are: they cannot succeed as configured. */
  skipped: z.array(z.object({ msg_id: z.string(), reason: z.string() })),
});
/** `POST /messages/{id}/retry`. */
export const RetryResultSchema = z.object({
  msg_id: z.string(),
  requeued: z.array(DeliverySchema),
});
/** `POST /messages/purge`. */
export const PurgeResultSchema = z.object({ purged: z.int() });

/** One notification Coder ships and the destinations that receive it. */
export const EventTypeSchema = z.object({
  name: z.string(),
  destinations: z.array(z.string()),
}).meta({ id: "EventType" });
/** `GET /event-types`: one page, same shape as every list. */
export const EventTypePageSchema = pageOf("event_types", EventTypeSchema, "EventTypePage");

const counts = z.object({ sent: z.int(), failed: z.int(), retried: z.int() });

/** One destination's figures on `GET /stats`. */
export const DestinationStatsSchema = z.object({
  id: z.string(),
  type: z.string(),
  state: z.enum(["enabled", "paused", "disabled"]),
  reason: z.string().nullable(),
  queue_depth: z.int(),
  oldest_queued_at: isoTime.nullable(),
  last_hour: counts,
  last_day: counts,
  latency_ms: z.object({ p50: z.number().nullable(), p99: z.number().nullable() })
    .meta({ description: "Over the last day, as latency-bucket upper bounds" }),
}).meta({ id: "DestinationStats" });

/** `GET /stats`: per destination, and deliveries per minute (minutes without any left out). */
export const StatsSchema = z.object({
  now: isoTime,
  window_minutes: z.int(),
  destinations: z.array(DestinationStatsSchema),
  minutes: z.array(z.object({ at: isoTime, ...counts.shape })),
}).meta({ id: "Stats" });
