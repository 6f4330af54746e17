/**
 * A generic HTTP webhook, signed per the Standard Webhooks spec (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`), so receivers verify it with any of the spec's libraries and dedupe on
 * `webhook-id` (the Coder `msg_id`). That makes it idempotent: lost answers are simply retried.
 *
 * @module
 */
import { z } from "zod";
import type { Envelope, EventFilter } from "../coder.ts";
import { httpUrl } from "./fields.ts";
import { destinationType } from "./type.ts";
import { standardWebhookSignature, WEBHOOK_SECRET_PATTERN } from "../signing.ts";
import { PRESET_NAMES, PRESETS, renderTemplate, templateProblem } from "./template.ts";
import { failureResult, type Fetch, postJson, statusResult } from "./http.ts";
import {
  goneResult,
  type Preview,
  type PreviewSink,
  type SendContext,
  type SendResult,
} from "./sink.ts";

/** What the receiver gets: Coder's envelope as received, or the normalized event. */
export type WebhookFormat = "coder" | "event";

/** Options for {@linkcode createWebhookSink}. */
export interface WebhookOptions {
  readonly url: string;
  /** `whsec_…`; absent: unsigned (the receiver must trust the network). */
  readonly secret?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly format: WebhookFormat;
  /** A checked body template ({@linkcode renderTemplate}); set, it replaces `format`. */
  readonly template?: string;
  /** Collapse one event's per-recipient copies into one request; default off. */
  readonly dedupeFanout?: boolean;
  readonly fetch: Fetch;
  readonly timeoutMs: number;
  readonly now: () => number;
}

/**
 * The envelope without build parameters: `data.parameters` may hold the user's secrets and is never
 * forwarded (docs/coder.md).
 */
function withoutParameters(envelope: Envelope): Envelope {
  const data = envelope.payload.data;
  if (!data || !("parameters" in data)) return envelope;
  const { parameters: _, ...rest } = data;
  return { ...envelope, payload: { ...envelope.payload, data: rest } };
}

/**
 * The normalized event (`format: "event"`), in the Standard Webhooks payload shape
 * `{ type, timestamp, data }`: `type` is `coder.` + the snake-cased notification name, `timestamp`
 * the first receipt.
 */
function toWebhookEvent(envelope: Envelope, receivedAt: number) {
  const { payload } = envelope;
  return {
    type: `coder.${
      payload.notification_name.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(
        /^_|_$/g,
        "",
      )
    }`,
    timestamp: new Date(receivedAt).toISOString(),
    data: {
      msg_id: envelope.msg_id,
      notification_name: payload.notification_name,
      notification_template_id: payload.notification_template_id,
      title: envelope.title,
      body: envelope.body,
      body_markdown: envelope.body_markdown,
      actions: payload.actions ?? [],
      labels: payload.labels ?? {},
      recipient: {
        id: payload.user_id,
        email: payload.user_email,
        name: payload.user_name,
        username: payload.user_username,
      },
      data: payload.data ?? null,
    },
  };
}

/** The request body: the template's output, the normalized event, or the envelope. */
function webhookBody(opts: WebhookOptions, ctx: SendContext): string {
  if (opts.template !== undefined) {
    return renderTemplate(opts.template, ctx.envelope, ctx.receivedAt);
  }
  const envelope = withoutParameters(ctx.envelope);
  // The bytes Coder sent, when nothing had to be removed: no number re-serialised.
  if (opts.format !== "event" && envelope === ctx.envelope && ctx.body !== undefined) {
    return ctx.body;
  }
  return JSON.stringify(
    opts.format === "event" ? toWebhookEvent(envelope, ctx.receivedAt) : envelope,
  );
}

/** The webhook sink: 2xx sent; 410 disables the destination; anything else is retried. */
export function createWebhookSink(opts: WebhookOptions): PreviewSink {
  return {
    idempotent: true,
    dedupeFanout: opts.dedupeFanout ?? false,
    allowsSecrets: false,
    async send(ctx: SendContext): Promise<SendResult> {
      const body = webhookBody(opts, ctx);
      const timestamp = Math.floor(opts.now() / 1000);
      const headers: Record<string, string> = {
        ...opts.headers,
        "webhook-id": ctx.msgId,
        "webhook-timestamp": String(timestamp),
      };
      if (opts.secret) {
        headers["webhook-signature"] = await standardWebhookSignature(
          opts.secret,
          ctx.msgId,
          timestamp,
          body,
        );
      }
      const answer = await postJson(opts.fetch, opts.url, body, {
        headers,
        timeoutMs: opts.timeoutMs,
      });
      if (answer.kind !== "response") return failureResult(answer, true);
      const result = statusResult(answer, opts.now(), "webhook");
      if (answer.status === 410) {
        return goneResult("webhook answered HTTP 410 Gone", 410);
      }
      if (result.state === "permanent_failure") {
        return { state: "temporary_failure", reason: result.reason, status: result.status };
      }
      return result;
    },
    preview(ctx: SendContext): Preview {
      const body = webhookBody(opts, ctx);
      // Configured headers are secrets (they usually carry an Authorization): names only.
      const headers: Record<string, string> = {
        ...Object.fromEntries(Object.keys(opts.headers ?? {}).map((k) => [k, "<configured>"])),
        "webhook-id": ctx.msgId,
        "webhook-timestamp": String(Math.floor(opts.now() / 1000)),
      };
      if (opts.secret) {
        headers["webhook-signature"] =
          "v1,<HMAC-SHA256 with the destination's secret, at delivery>";
      }
      return { body: JSON.parse(body), headers };
    },
  };
}

const WebhookSchema = z.strictObject({
  url: httpUrl,
  secret: z.string().trim().regex(WEBHOOK_SECRET_PATTERN, "expected whsec_ followed by base64")
    .optional(),
  headers: z.record(
    z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "expected an HTTP header name"),
    z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, "must not contain control characters"),
  ).default({}),
  format: z.enum(["coder", "event"]).default("coder"),
  dedupe_fanout: z.boolean().default(false),
  /** A body template (JSON text with placeholders, or a JSON object whose strings have them). */
  template: z.union([z.string(), z.record(z.string(), z.unknown())], {
    error: "expected a JSON template: a string or an object",
  }).transform((t) => typeof t === "string" ? t : JSON.stringify(t)).optional(),
  /** A shipped template by name (`src/presets/*.json`). */
  preset: z.enum(PRESET_NAMES).optional(),
}).superRefine((c, ctx) => {
  if (c.template !== undefined && c.preset !== undefined) {
    ctx.addIssue({ code: "custom", path: ["preset"], message: "set template or preset, not both" });
  }
  const problem = c.template === undefined ? undefined : templateProblem(c.template);
  if (problem) ctx.addIssue({ code: "custom", path: ["template"], message: problem });
});

/** What the `webhook` type reads from the relay's configuration. */
interface WebhookSettings {
  readonly webhook: {
    readonly url?: string;
    readonly secret?: string;
    readonly eventsTracked: EventFilter;
  };
}

/** The `webhook` destination type: a signed generic webhook; its secret and headers are secrets. */
export const webhook = destinationType({
  type: "webhook",
  schema: WebhookSchema,
  secretFields: ["secret", "headers"],
  create: (c, deps) =>
    createWebhookSink({
      fetch: deps.fetch,
      now: deps.now,
      timeoutMs: deps.timeoutMs,
      url: c.url,
      secret: c.secret,
      headers: c.headers,
      format: c.format,
      dedupeFanout: c.dedupe_fanout,
      template: c.preset ? PRESETS[c.preset] : c.template,
    }),
  env: ({ webhook }: WebhookSettings) => {
    if (!webhook.url) return undefined;
    // Userinfo and query may carry credentials: describe by origin and path only.
    const { origin, pathname } = new URL(webhook.url);
    return {
      events: webhook.eventsTracked,
      description: `${origin}${pathname}`,
      configuration: WebhookSchema.parse({ url: webhook.url, secret: webhook.secret }),
    };
  },
});
