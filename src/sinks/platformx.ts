/**
 * DX PlatformX `events.track` (docs/platformx.md). PlatformX has no idempotency key, so this sink is the
 * reason fan-out copies are collapsed and lost answers become `unknown` rather than a second event.
 * Without an API key it runs dry: the same transform and identity resolution, logged instead of sent.
 *
 * @module
 */
import { z } from "zod";
import { type Envelope, type EventFilter, subjectOf } from "../coder.ts";
import { apiUrl, secret } from "./fields.ts";
import { destinationType } from "./type.ts";
import type { IdentityResolver } from "../identity.ts";
import { logger, maskEmail } from "../log.ts";
import { failureResult, type Fetch, postJson, statusResult } from "./http.ts";
import { summarizeAnswer } from "../redact.ts";
import type { Preview, PreviewSink, ProbeResult, SendContext, SendResult } from "./sink.ts";

/** The body of one `events.track` call. */
export interface PlatformXEvent {
  readonly name: string;
  /** Unix seconds, as a string. */
  readonly timestamp: string;
  readonly email: string;
  readonly metadata: Record<string, unknown>;
}

/** PlatformX rejects metadata over 1 KB serialized. */
export const METADATA_MAX_BYTES = 1024;
const LABEL_MAX_CHARS = 120;
/** Labels that must never leave for an analytics sink. */
const SECRET_LABELS = new Set(["one_time_passcode"]);

/**
 * The event PlatformX receives: the name as Coder spells it, the first-receipt time, the subject's
 * email, and a bounded summary. Nothing about the recipient, no build parameters, no secrets.
 */
export function toPlatformXEvent(
  envelope: Envelope,
  receivedAt: number,
  email: string,
): PlatformXEvent {
  const { payload } = envelope;
  const data = payload.data ?? {};
  const named = (key: string) => {
    const v = data[key] as { id?: unknown; name?: unknown } | undefined;
    return v && typeof v === "object" && typeof v.name === "string" ? v.name : undefined;
  };
  const base: Record<string, unknown> = { source: "coder" };
  if (payload.notification_template_id) {
    base.notification_template_id = payload.notification_template_id;
  }
  for (
    const [key, value] of [
      ["workspace", named("workspace")],
      ["template", named("template")],
      ["template_version", named("template_version")],
    ] as const
  ) {
    if (value !== undefined) base[key] = clip(value);
  }
  const metadata = fitLabels(base, payload.labels ?? {});
  return {
    name: payload.notification_name,
    timestamp: String(Math.floor(receivedAt / 1000)),
    email,
    metadata,
  };
}

/** Adds labels (secrets left out, values clipped) in name order while the whole fits 1 KB. */
function fitLabels(base: Record<string, unknown>, labels: Record<string, string>) {
  const kept: Record<string, string> = {};
  const out: Record<string, unknown> = { ...base, labels: kept };
  let dropped = 0;
  for (const key of Object.keys(labels).sort()) {
    if (SECRET_LABELS.has(key)) continue;
    kept[key] = clip(labels[key]);
    if (byteLength(out) > METADATA_MAX_BYTES - 32) {
      delete kept[key];
      dropped++;
    }
  }
  if (dropped > 0) out.labels_dropped = dropped;
  return out;
}

function clip(value: string): string {
  return value.length > LABEL_MAX_CHARS ? `${value.slice(0, LABEL_MAX_CHARS - 1)}…` : value;
}

const encoder = new TextEncoder();
function byteLength(value: unknown): number {
  return encoder.encode(JSON.stringify(value)).byteLength;
}

/** Options for {@linkcode createPlatformXSink}. */
export interface PlatformXOptions {
  /** Absent: dry run. */
  readonly apiKey?: string;
  readonly apiUrl: string;
  readonly fetch: Fetch;
  readonly timeoutMs: number;
  readonly now: () => number;
  /** Finds emails for subjects named only by username; absent, such events fail permanently. */
  readonly resolver?: IdentityResolver;
}

const log = logger("sink", "platformx");

/** The PlatformX sink: one event per Coder event, never repeated on purpose. */
export function createPlatformXSink(opts: PlatformXOptions): PreviewSink {
  const url = `${opts.apiUrl}/events.track`;

  async function subjectEmail(envelope: Envelope): Promise<string | SendResult> {
    const subject = subjectOf(envelope.payload);
    if (subject?.email) return subject.email;
    if (!subject?.username) {
      return {
        state: "permanent_failure",
        reason: "event names no subject (no data.owner, data.user or username label): " +
          "nobody to attribute it to in PlatformX",
      };
    }
    if (!opts.resolver) {
      return {
        state: "permanent_failure",
        reason: `event has no subject email and identity lookup is off ` +
          `(set CODER_URL and CODER_SESSION_TOKEN to look up "${subject.username}")`,
      };
    }
    const found = await opts.resolver.resolve(subject.username);
    if (found.kind === "found") return found.email;
    return found.kind === "temporary"
      ? { state: "temporary_failure", reason: found.reason }
      : { state: "permanent_failure", reason: found.reason };
  }

  return {
    idempotent: false,
    dedupeFanout: true,
    allowsSecrets: false,
    async send(ctx: SendContext): Promise<SendResult> {
      const email = await subjectEmail(ctx.envelope);
      if (typeof email !== "string") return email;
      const event = toPlatformXEvent(ctx.envelope, ctx.receivedAt, email);
      if (!opts.apiKey) {
        log.info("dry run (GETDX_API_KEY unset): would send {name} at {at} {metadata}", {
          msgId: ctx.msgId,
          name: event.name,
          at: new Date(ctx.receivedAt).toISOString(),
          metadata: event.metadata,
        });
        log.debug("dry run event for {email}: {event}", { email: maskEmail(email), event });
        return { state: "sent", detail: "dry run" };
      }
      const answer = await postJson(opts.fetch, url, event, {
        headers: { authorization: `Bearer ${opts.apiKey}` },
        timeoutMs: opts.timeoutMs,
      });
      if (answer.kind !== "response") return failureResult(answer, false);
      return classify(answer.status, answer.text, statusResult(answer, opts.now(), "PlatformX"));
    },
    preview(ctx: SendContext): Preview {
      const subject = subjectOf(ctx.envelope.payload);
      const note = opts.apiKey ? undefined : "dry run: GETDX_API_KEY is not set, nothing is sent";
      if (subject?.email) {
        return { body: toPlatformXEvent(ctx.envelope, ctx.receivedAt, subject.email), note };
      }
      if (!subject?.username) {
        return { note: "permanent failure at delivery: the event names no subject" };
      }
      if (!opts.resolver) {
        return {
          note: `permanent failure at delivery: no subject email for "${subject.username}" ` +
            "and CODER_URL/CODER_SESSION_TOKEN are unset",
        };
      }
      const placeholder = `<email of Coder user "${subject.username}">`;
      return {
        body: toPlatformXEvent(ctx.envelope, ctx.receivedAt, placeholder),
        note: `email looked up in Coder at delivery time${note ? `; ${note}` : ""}`,
      };
    },
    async probe(): Promise<ProbeResult> {
      if (!opts.apiKey) return { ok: null, detail: "dry run: GETDX_API_KEY is not set" };
      // An empty event is refused as invalid once the key is accepted: nothing is recorded.
      const answer = await postJson(opts.fetch, url, {}, {
        headers: { authorization: `Bearer ${opts.apiKey}` },
        timeoutMs: opts.timeoutMs,
      });
      if (answer.kind !== "response") return { ok: false, detail: answer.reason };
      if (answer.status === 401 || answer.status === 403) {
        return { ok: false, detail: `PlatformX rejected the API key (HTTP ${answer.status})` };
      }
      if (answer.status >= 500) {
        return { ok: false, detail: `PlatformX answered HTTP ${answer.status}` };
      }
      return { ok: true, detail: `PlatformX accepted the API key (HTTP ${answer.status})` };
    },
  };
}

/** PlatformX specifics on top of the generic status reading (docs/platformx.md). */
function classify(status: number, text: string, generic: SendResult): SendResult {
  if (status >= 200 && status < 300) {
    let body: { ok?: unknown; error?: unknown } | undefined;
    try {
      body = JSON.parse(text);
    } catch { /* a 2xx without JSON still means accepted */ }
    if (body?.ok === false) {
      return {
        state: "permanent_failure",
        status,
        reason: `PlatformX refused the event: ${summarizeAnswer(String(body.error ?? text))}`,
      };
    }
    return { state: "sent", status };
  }
  if (status === 401 || status === 403) {
    log.error(
      "PlatformX rejected GETDX_API_KEY (HTTP {status}): every event will fail until it is fixed",
      {
        status,
      },
    );
    return {
      state: "permanent_failure",
      status,
      reason: `PlatformX rejected GETDX_API_KEY (HTTP ${status}); fix the key, then replay`,
    };
  }
  return generic;
}

/** A `platformx` configuration; the key is absent only for the environment's dry run. */
interface PlatformXConfiguration {
  readonly api_key?: string;
  readonly api_url?: string;
}

/** What the `platformx` type reads from the relay's configuration. */
interface PlatformXSettings {
  readonly eventsTracked: EventFilter;
  readonly platformx: { readonly apiKey?: string; readonly apiUrl: string };
}

/**
 * The `platformx` destination type. The environment always defines one (`GETDX_API_KEY`,
 * `EVENTS_TRACKED`); without a key it runs dry, which only the environment may ask for.
 */
export const platformx = destinationType<"platformx", PlatformXConfiguration, PlatformXSettings>({
  type: "platformx",
  schema: z.strictObject({
    api_key: secret,
    /** Defaults to `GETDX_API_URL`. */
    api_url: apiUrl.optional(),
  }),
  secretFields: ["api_key"],
  create: (c, deps) =>
    createPlatformXSink({
      apiKey: c.api_key,
      apiUrl: c.api_url ?? deps.settings.platformx.apiUrl,
      fetch: deps.fetch,
      timeoutMs: deps.timeoutMs,
      now: deps.now,
      resolver: deps.resolver,
    }),
  // Not parsed: without a key the schema would refuse the dry run the environment asks for.
  env: (s) => ({
    events: s.eventsTracked,
    description: s.platformx.apiKey ? s.platformx.apiUrl : "dry run: GETDX_API_KEY is not set",
    configuration: { api_key: s.platformx.apiKey },
  }),
});
