/**
 * Slack incoming webhooks (docs/slack.md): one channel chosen when the hook was made, real HTTP
 * statuses, and the hook's URL as its only credential.
 *
 * @module
 */
import { z } from "zod";
import { httpUrl } from "./fields.ts";
import { failureResult, type Fetch, postJson, statusResult } from "./http.ts";
import {
  goneResult,
  type Preview,
  type PreviewSink,
  type SendContext,
  type SendResult,
} from "./sink.ts";
import { type SlackPostStyle, type SlackSettings, style, styleFields } from "./slack.ts";
import { renderSlackMessage } from "./slack_message.ts";
import { destinationType } from "./type.ts";

/** Options for {@linkcode createSlackWebhookSink}. */
export interface SlackWebhookOptions extends SlackPostStyle {
  /** `https://hooks.slack.com/services/…`: a secret, never logged. */
  readonly url: string;
  readonly fetch: Fetch;
  readonly timeoutMs: number;
  readonly now: () => number;
}

/**
 * Incoming-webhook answers that mean the hook itself is gone (removed, its channel archived, its
 * workspace or token revoked): every later message would fail the same way, so the destination is
 * disabled rather than failing messages one by one. Message-level errors (`invalid_payload`…) are not
 * here: they fail only that message.
 */
const GONE_HOOK_ERRORS = new Set([
  "no_service",
  "no_team",
  "team_disabled",
  "invalid_token",
  "channel_not_found",
  "channel_is_archived",
  "action_prohibited",
]);

/** An incoming webhook: one channel chosen when the hook was made, real HTTP statuses. */
export function createSlackWebhookSink(opts: SlackWebhookOptions): PreviewSink {
  const hookBody = (ctx: SendContext) => ({
    ...renderSlackMessage(ctx.envelope),
    ...styleFields(opts),
  });
  return {
    idempotent: false,
    dedupeFanout: true,
    allowsSecrets: false,
    async send(ctx: SendContext): Promise<SendResult> {
      const body = hookBody(ctx);
      const answer = await postJson(opts.fetch, opts.url, body, { timeoutMs: opts.timeoutMs });
      if (answer.kind !== "response") return failureResult(answer, false);
      const result = statusResult(answer, opts.now(), "Slack incoming webhook");
      if (result.state !== "permanent_failure") return result;
      // `result.reason` carries Slack's answer, already cut to one short line.
      return answer.status === 410 || GONE_HOOK_ERRORS.has(answer.text.trim())
        ? goneResult(result.reason, answer.status)
        : result;
    },
    preview(ctx: SendContext): Preview {
      return { body: hookBody(ctx) };
    },
  };
}

const SlackWebhookSchema = z.strictObject({ url: httpUrl, ...style });

/** The `slack-webhook` destination type: an incoming webhook, its URL a secret. */
export const slackWebhook = destinationType({
  type: "slack-webhook",
  schema: SlackWebhookSchema,
  secretFields: ["url"],
  create: (c, deps) =>
    createSlackWebhookSink({ fetch: deps.fetch, now: deps.now, timeoutMs: deps.timeoutMs, ...c }),
  env: ({ slack }: SlackSettings) =>
    slack.webhookUrl
      ? {
        events: slack.eventsTracked,
        description: "Slack incoming webhook",
        configuration: SlackWebhookSchema.parse({
          url: slack.webhookUrl,
          username: slack.username,
          icon: slack.icon,
        }),
      }
      : undefined,
});
