/**
 * Slack's Web API (docs/slack.md), two ways: a DM to the message's recipient found by email (a
 * drop-in for Coder's sample Slack bot), or a post to one channel; incoming webhooks are
 * {@link ./slack_webhook.ts}. A plain fetch client
 * with a timeout and no retries of its own: the worker owns retries, backoff and `Retry-After`
 * pauses. Slack reports most errors as HTTP 200 `{"ok": false, "error": …}`; they are sorted into
 * permanent and retryable here.
 *
 * @module
 */
import { z } from "zod";
import type { Envelope, EventFilter } from "../coder.ts";
import { apiUrl, secret, slackIcon } from "./fields.ts";
import { destinationType } from "./type.ts";
import { logger, maskEmail } from "../log.ts";
import { summarizeAnswer } from "../redact.ts";
import { createTtlCache, singleFlight } from "../ttl_cache.ts";
import {
  failureResult,
  type Fetch,
  type HttpAnswer,
  parseRetryAfter,
  postJson,
  request,
  statusResult,
} from "./http.ts";
import type { Preview, PreviewSink, ProbeResult, SendContext, SendResult } from "./sink.ts";
import { renderSlackMessage } from "./slack_message.ts";

/** Slack errors retrying cannot fix: a token, scope, channel or message problem. */
const PERMANENT_ERRORS = new Set([
  "invalid_auth",
  "not_authed",
  "account_inactive",
  "token_revoked",
  "token_expired",
  "channel_not_found",
  "not_in_channel",
  "is_archived",
  "users_not_found",
  "missing_scope",
  "invalid_blocks",
  "msg_too_long",
]);
/** Errors about the token or app rather than one message: every send will fail until fixed. */
const CREDENTIAL_ERRORS = new Set([
  "invalid_auth",
  "not_authed",
  "account_inactive",
  "token_revoked",
  "token_expired",
  "missing_scope",
]);
/** Slack-side trouble that passes. */
const RETRYABLE_ERRORS = new Set([
  "ratelimited",
  "internal_error",
  "fatal_error",
  "service_unavailable",
  "request_timeout",
]);

const log = logger("sink", "slack");

/**
 * Reads one Web API answer: the parsed body when `ok`, otherwise the outcome. Unknown error codes
 * are permanent (they name bad arguments); `idempotent` says whether a lost or garbled answer may
 * be retried (a lookup) or not (a post that may have landed).
 */
function slackResult(
  answer: HttpAnswer,
  now: number,
  idempotent: boolean,
): { ok: true; body: Record<string, unknown> } | SendResult {
  if (answer.status !== 200) return statusResult(answer, now, "Slack");
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(answer.text);
  } catch {
    const reason = `Slack answered HTTP 200 without JSON: ${summarizeAnswer(answer.text, 100)}`;
    return idempotent ? { state: "temporary_failure", reason, status: 200 } : {
      state: "unknown",
      reason: `${reason}; the message may have been posted, so it is not repeated`,
      status: 200,
    };
  }
  if (body.ok === true) return { ok: true, body };
  const error = String(body.error ?? "unknown_error");
  const reason = `Slack refused: ${error}`;
  if (RETRYABLE_ERRORS.has(error)) {
    const retryAfterMs = parseRetryAfter(answer.headers.get("retry-after"), now);
    return { state: "temporary_failure", reason, status: 200, retryAfterMs };
  }
  if (CREDENTIAL_ERRORS.has(error)) {
    log.error("Slack rejected the bot token ({error}): every message will fail until it is fixed", {
      error,
    });
    return {
      state: "permanent_failure",
      reason: `${reason} (check SLACK_BOT_TOKEN and the app's scopes, then replay)`,
      status: 200,
    };
  }
  return {
    state: "permanent_failure",
    reason: PERMANENT_ERRORS.has(error) ? reason : `${reason} (unrecognised error, not retried)`,
    status: 200,
  };
}

/** How a Slack destination addresses its posts. */
export interface SlackPostStyle {
  /** Shown as the sender (needs `chat:write.customize` for the Web API). */
  readonly username?: string;
  /** `:emoji:` or an image URL. */
  readonly icon?: string;
}

/** A post's sender fields (`username`, `icon_emoji`/`icon_url`), shared with the incoming webhook. */
export function styleFields(style: SlackPostStyle): Record<string, string> {
  const out: Record<string, string> = {};
  if (style.username) out.username = style.username;
  if (style.icon) out[style.icon.startsWith(":") ? "icon_emoji" : "icon_url"] = style.icon;
  return out;
}

/** Options for {@linkcode createSlackSink}. */
export interface SlackOptions extends SlackPostStyle {
  readonly token: string;
  /** Web API base, e.g. `https://slack.com/api` (no trailing slash). */
  readonly apiUrl: string;
  /** Set: channel mode, one post per event to this channel. Unset: DM each recipient. */
  readonly channel?: string;
  readonly fetch: Fetch;
  readonly timeoutMs: number;
  readonly now: () => number;
  /** How long a found user id is reused; default 1 h. */
  readonly lookupHitTtlMs?: number;
  /** How long "no such Slack user" is believed; default 5 min. */
  readonly lookupMissTtlMs?: number;
}

type Lookup = { readonly id: string } | { readonly missing: string };

/**
 * The Web API sink. DM mode fans out per recipient and may carry one-time passcodes (they go to
 * their own recipient); channel mode posts each event once and never carries secrets.
 */
export function createSlackSink(opts: SlackOptions): PreviewSink {
  const headers = { authorization: `Bearer ${opts.token}` };
  const lookups = createTtlCache<Lookup>(opts.now);
  const hitTtl = opts.lookupHitTtlMs ?? 60 * 60_000;
  const missTtl = opts.lookupMissTtlMs ?? 5 * 60_000;

  const once = singleFlight<string | SendResult>();

  function userId(email: string): Promise<string | SendResult> {
    const key = email.toLowerCase();
    return once(key, () => lookupUserId(key, email));
  }

  async function lookupUserId(key: string, email: string): Promise<string | SendResult> {
    const cached = lookups.get(key);
    if (cached) {
      return "id" in cached ? cached.id : { state: "permanent_failure", reason: cached.missing };
    }
    const answer = await request(
      opts.fetch,
      `${opts.apiUrl}/users.lookupByEmail?email=${encodeURIComponent(email)}`,
      { headers, timeoutMs: opts.timeoutMs },
    );
    if (answer.kind !== "response") return failureResult(answer, true);
    const result = slackResult(answer, opts.now(), true);
    if (!("ok" in result)) {
      if (result.state === "permanent_failure" && /users_not_found/.test(result.reason)) {
        const reason = "no Slack user has the recipient's email (users_not_found)";
        lookups.set(key, { missing: reason }, missTtl);
        return { ...result, reason };
      }
      return result;
    }
    const id = (result.body.user as { id?: unknown } | undefined)?.id;
    if (typeof id !== "string" || id === "") {
      return {
        state: "permanent_failure",
        reason: "Slack users.lookupByEmail returned no user id",
      };
    }
    log.debug("Slack user for {email} is {id}", { email: maskEmail(email), id });
    lookups.set(key, { id }, hitTtl);
    return id;
  }

  function postMessageBody(channel: string, envelope: Envelope) {
    return {
      channel,
      ...renderSlackMessage(envelope),
      ...styleFields(opts),
      unfurl_links: false,
      unfurl_media: false,
    };
  }

  async function target(envelope: Envelope): Promise<string | SendResult> {
    if (opts.channel) return opts.channel;
    const email = envelope.payload.user_email?.trim();
    if (!email) {
      return {
        state: "permanent_failure",
        reason: "message has no payload.user_email: nobody to send a DM to",
      };
    }
    return await userId(email);
  }

  return {
    idempotent: false,
    dedupeFanout: opts.channel !== undefined,
    allowsSecrets: opts.channel === undefined,
    async send(ctx: SendContext): Promise<SendResult> {
      const channel = await target(ctx.envelope);
      if (typeof channel !== "string") return channel;
      const body = postMessageBody(channel, ctx.envelope);
      const answer = await postJson(opts.fetch, `${opts.apiUrl}/chat.postMessage`, body, {
        headers: { ...headers, "content-type": "application/json; charset=utf-8" },
        timeoutMs: opts.timeoutMs,
      });
      if (answer.kind !== "response") return failureResult(answer, false);
      const result = slackResult(answer, opts.now(), false);
      return "ok" in result ? { state: "sent", status: answer.status } : result;
    },
    preview(ctx: SendContext): Preview {
      if (opts.channel) return { body: postMessageBody(opts.channel, ctx.envelope) };
      const email = ctx.envelope.payload.user_email?.trim();
      if (!email) {
        return { note: "permanent failure at delivery: no payload.user_email to send a DM to" };
      }
      return {
        body: postMessageBody(`<Slack user id of ${maskEmail(email)}>`, ctx.envelope),
        note: "a DM: the channel is the recipient's user id, looked up by email at delivery",
      };
    },
    /** `auth.test`: whether Slack takes the token, and for which workspace and bot. */
    async probe(): Promise<ProbeResult> {
      const answer = await request(opts.fetch, `${opts.apiUrl}/auth.test`, {
        method: "POST",
        headers,
        timeoutMs: opts.timeoutMs,
      });
      if (answer.kind !== "response") return { ok: false, detail: `Slack: ${answer.reason}` };
      if (answer.status !== 200) {
        return { ok: false, detail: `Slack auth.test answered HTTP ${answer.status}` };
      }
      let body: { ok?: unknown; error?: unknown; team?: unknown; user?: unknown };
      try {
        body = JSON.parse(answer.text);
      } catch {
        return { ok: false, detail: "Slack auth.test answered without JSON" };
      }
      if (body.ok !== true) {
        return {
          ok: false,
          detail: `Slack refused the token: ${String(body.error ?? "no reason")}`,
        };
      }
      return {
        ok: true,
        detail: `Slack accepted the token (workspace ${String(body.team ?? "?")}, bot ${
          String(body.user ?? "?")
        })`,
      };
    },
  };
}

/** What the Slack types read from the relay's configuration. */
export interface SlackSettings {
  readonly slack: {
    readonly botToken?: string;
    readonly channel?: string;
    readonly webhookUrl?: string;
    readonly username?: string;
    readonly icon?: string;
    readonly eventsTracked: EventFilter;
    readonly apiUrl: string;
  };
}

/** The sender fields of both Slack types' configuration. */
export const style = {
  username: z.string().trim().min(1).max(80).optional(),
  icon: slackIcon.optional(),
};

/** Slack's own Web API: the only host a destination that may carry passcodes may name. */
const SLACK_API_ORIGIN = "https://slack.com";

const SlackSchema = z.strictObject({
  token: secret.regex(/^xox[a-z]-/, "expected a Slack token (xoxb-…)"),
  /** A channel name or id; absent: a DM to each message's recipient, looked up by email. */
  channel: z.string().trim().min(1, "must not be empty").optional(),
  /** Defaults to `SLACK_API_URL`. */
  api_url: apiUrl.optional(),
  ...style,
}).refine(
  // A DM destination carries One-Time Passcodes: an API host of the editor's choosing would
  // receive every one of them. The operator's SLACK_API_URL (the default) stays trusted.
  (c) =>
    c.channel !== undefined || c.api_url === undefined ||
    new URL(c.api_url).origin === SLACK_API_ORIGIN,
  {
    path: ["api_url"],
    message: `a DM destination (no channel) carries One-Time Passcodes, so its api_url must be ` +
      `${SLACK_API_ORIGIN}/api: leave api_url out, or set a channel`,
  },
);

/** The `slack` destination type (Web API): DMs by email, or posts to one channel. */
export const slack = destinationType({
  type: "slack",
  schema: SlackSchema,
  secretFields: ["token"],
  create: (c, deps) =>
    createSlackSink({
      fetch: deps.fetch,
      now: deps.now,
      timeoutMs: deps.timeoutMs,
      token: c.token,
      apiUrl: c.api_url ?? deps.settings.slack.apiUrl,
      channel: c.channel,
      username: c.username,
      icon: c.icon,
    }),
  env: ({ slack }: SlackSettings) =>
    slack.botToken
      ? {
        events: slack.eventsTracked,
        description: slack.channel ? `channel ${slack.channel}` : "DM to each recipient",
        configuration: SlackSchema.parse({
          token: slack.botToken,
          channel: slack.channel,
          username: slack.username,
          icon: slack.icon,
        }),
      }
      : undefined,
});
