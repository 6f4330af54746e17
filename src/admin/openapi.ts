/**
 * The OpenAPI 3.1 document of `/api/v1`, built from the zod schemas in `schemas.ts` (requests as
 * they are accepted, responses as they are produced) and served at `GET /api/v1/openapi.json`.
 * The test suite checks every admin answer it provokes against this document, so it cannot drift.
 *
 * @module
 */
import { z } from "zod";
import { VERSION } from "../version.ts";
import {
  ErrorSchema,
  EventTypePageSchema,
  MessagePageSchema,
  MessageQuerySchema,
  MessageSchema,
  PauseSchema,
  PreviewResultSchema,
  PurgeResultSchema,
  PurgeSchema,
  RetryFailedResultSchema,
  RetryFailedSchema,
  RetryResultSchema,
  StatsQuerySchema,
  StatsSchema,
  SubscriptionBodySchema,
  SubscriptionListSchema,
  SubscriptionPatchSchema,
  SubscriptionSchema,
  TargetSchema,
  TestOutcomeSchema,
  TestSendSchema,
} from "./schemas.ts";
import { PreviewSchema } from "./preview.ts";

type Json = Record<string, unknown>;

/** One operation: what it takes and what it answers, by status. */
interface Operation {
  readonly method: "get" | "post" | "put" | "patch" | "delete";
  readonly path: string;
  readonly summary: string;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /** Status → schema; `null` for an empty body. */
  readonly ok: Readonly<Record<number, z.ZodType | null>>;
  /** Error statuses beyond those every authenticated operation has (401, 403, 503). */
  readonly errors?: readonly number[];
  readonly public?: boolean;
}

const id = { name: "id", in: "path", required: true, schema: { type: "string" } };

const OPERATIONS: readonly Operation[] = [
  {
    method: "post",
    path: "/preview",
    summary: "What destinations would receive for a Coder message, offline: nothing stored or sent",
    body: PreviewSchema,
    ok: { 200: PreviewResultSchema },
    errors: [400, 404, 413],
  },
  {
    method: "get",
    path: "/webhooks/",
    summary: "List destinations (CloudTruth's shape; trailing slash optional)",
    ok: { 200: SubscriptionListSchema },
  },
  {
    method: "post",
    path: "/webhooks/",
    summary: "Create a destination",
    body: SubscriptionBodySchema,
    ok: { 201: SubscriptionSchema },
    errors: [400, 413],
  },
  {
    method: "get",
    path: "/webhooks/{id}",
    summary: "One destination, secrets redacted",
    ok: { 200: SubscriptionSchema },
    errors: [404],
  },
  {
    method: "put",
    path: "/webhooks/{id}",
    summary: "Replace a destination; redacted secrets sent back keep their value",
    body: SubscriptionBodySchema,
    ok: { 200: SubscriptionSchema },
    errors: [400, 404, 409, 413],
  },
  {
    method: "patch",
    path: "/webhooks/{id}",
    summary: "Change some fields; configuration keys merge, null removes one",
    body: SubscriptionPatchSchema,
    ok: { 200: SubscriptionSchema },
    errors: [400, 404, 409, 413],
  },
  {
    method: "delete",
    path: "/webhooks/{id}",
    summary: "Delete a destination; its open deliveries are closed",
    ok: { 204: null },
    errors: [404, 409],
  },
  {
    method: "post",
    path: "/webhooks/{id}/test",
    summary: "Send a test notification now, outside the queue",
    body: TestSendSchema,
    ok: { 200: TestOutcomeSchema },
    errors: [400, 404, 413],
  },
  {
    method: "get",
    path: "/messages",
    summary: "Messages, newest first, cursor-paged",
    query: MessageQuerySchema,
    ok: { 200: MessagePageSchema },
    errors: [400],
  },
  {
    method: "post",
    path: "/messages/retry",
    summary: "Re-queue every failed delivery of a destination",
    body: RetryFailedSchema,
    ok: { 200: RetryFailedResultSchema },
    errors: [400, 404, 413],
  },
  {
    method: "post",
    path: "/messages/purge",
    summary: "Delete messages older than a number of days",
    body: PurgeSchema,
    ok: { 200: PurgeResultSchema },
    errors: [400, 413],
  },
  {
    method: "get",
    path: "/messages/{id}",
    summary: "One message with each delivery's attempts",
    ok: { 200: MessageSchema },
    errors: [404],
  },
  {
    method: "post",
    path: "/messages/{id}/retry",
    summary: "Replay a message's failed deliveries (one destination's with `destination`)",
    body: TargetSchema,
    ok: { 200: RetryResultSchema },
    errors: [400, 404, 409, 413],
  },
  {
    method: "get",
    path: "/pause",
    summary: "The pause switches",
    ok: { 200: PauseSchema },
  },
  {
    method: "post",
    path: "/pause",
    summary: "Pause delivery (to one destination with `destination`); accepting goes on",
    body: TargetSchema,
    ok: { 200: PauseSchema },
    errors: [400, 404, 413],
  },
  {
    method: "post",
    path: "/resume",
    summary: "Resume delivery (to one destination with `destination`)",
    body: TargetSchema,
    ok: { 200: PauseSchema },
    errors: [400, 404, 413],
  },
  {
    method: "get",
    path: "/event-types",
    summary: "The notifications Coder ships and the destinations that receive each",
    ok: { 200: EventTypePageSchema },
  },
  {
    method: "get",
    path: "/stats",
    summary:
      "Per destination: state, queue, sent and failed counts, latency; deliveries per minute",
    query: StatsQuerySchema,
    ok: { 200: StatsSchema },
    errors: [400],
  },
  {
    method: "get",
    path: "/openapi.json",
    summary: "This document",
    ok: { 200: z.record(z.string(), z.unknown()) },
    public: true,
  },
];

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No content",
  400: "Invalid input; `details.issues` lists each field",
  401: "No bearer token",
  403: "Wrong token, or the admin API is disabled",
  404: "Not found",
  409: "Conflict (read-only destination, nothing to retry)",
  413: "Body too large",
  503: "Store unavailable; retry",
};

/** Converts one schema, moving its named parts into `components` and pointing refs there. */
function convert(schema: z.ZodType, io: "input" | "output", components: Json): Json {
  const json = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });
  const text = JSON.stringify(json).replaceAll('"#/$defs/', '"#/components/schemas/');
  const { $schema: _, $defs, ...rest } = JSON.parse(text) as Json & { $defs?: Json };
  Object.assign(components, $defs ?? {});
  // A schema that is itself named comes back as a bare ref plus its definition.
  return rest;
}

function queryParameters(query: z.ZodObject, components: Json): Json[] {
  const json = convert(query, "input", components) as {
    properties: Record<string, Json>;
    required?: string[];
  };
  return Object.entries(json.properties).map(([name, schema]) => {
    const { description, ...rest } = schema;
    return {
      name,
      in: "query",
      required: json.required?.includes(name) ?? false,
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

let built: Json | undefined;

/** The document; built once, it is the same for every caller and holds nothing secret. */
export function buildOpenApi(): Json {
  if (built) return built;
  const schemas: Json = {};
  const paths: Record<string, Json> = {};
  const errorRef = { $ref: "#/components/schemas/Error" };
  convert(ErrorSchema, "output", schemas);
  for (const op of OPERATIONS) {
    const responses: Json = {};
    for (const [status, schema] of Object.entries(op.ok)) {
      responses[status] = {
        description: STATUS_TEXT[Number(status)],
        ...(schema
          ? { content: { "application/json": { schema: convert(schema, "output", schemas) } } }
          : {}),
      };
    }
    const errors = op.public ? [] : [...(op.errors ?? []), 401, 403, 503].sort();
    for (const status of errors) {
      responses[status] = {
        description: STATUS_TEXT[status],
        content: { "application/json": { schema: errorRef } },
      };
    }
    const parameters = [
      ...(op.path.includes("{id}") ? [id] : []),
      ...(op.query ? queryParameters(op.query, schemas) : []),
    ];
    paths[op.path] ??= {};
    paths[op.path][op.method] = {
      operationId: `${op.method}${
        op.path.replace(/[^a-z]+([a-z])?/gi, (_, c) => c?.toUpperCase() ?? "")
      }`,
      summary: op.summary,
      ...(op.public ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? {
          requestBody: {
            required: false,
            content: { "application/json": { schema: convert(op.body, "input", schemas) } },
          },
        }
        : {}),
      responses,
    };
  }
  built = {
    openapi: "3.1.0",
    info: {
      title: "coder-relay admin API",
      version: VERSION,
      description: "Steer the relay: destinations, messages, replay, pause. Lists are " +
        "cursor-paged in one shape: the items under their plural name and `next_cursor` (null " +
        "on the last page), passed back as `?cursor=`; `GET /webhooks/` keeps CloudTruth's " +
        "`{count, next, previous, results}` shape for compatibility.",
    },
    servers: [{ url: "/api/v1" }],
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "RELAY_ADMIN_TOKEN" },
      },
    },
  };
  return built;
}
