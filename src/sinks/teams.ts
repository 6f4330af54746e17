/**
 * Microsoft Teams through a Workflows (Power Automate) webhook, such as the stock template "Send
 * webhook alerts to a channel": one Adaptive Card per message ({@linkcode renderTeamsMessage}), so
 * the flow needs no custom parsing. The flow URL carries its own signature: it is a secret.
 *
 * @module
 */
import { z } from "zod";
import type { EventFilter } from "../coder.ts";
import { httpUrl } from "./fields.ts";
import { failureResult, type Fetch, postJson, statusResult } from "./http.ts";
import {
  goneResult,
  type Preview,
  type PreviewSink,
  type SendContext,
  type SendResult,
} from "./sink.ts";
import { renderTeamsMessage } from "./teams_card.ts";
import { destinationType } from "./type.ts";

/** Options for {@linkcode createTeamsSink}. */
export interface TeamsOptions {
  readonly url: string;
  readonly fetch: Fetch;
  readonly timeoutMs: number;
  readonly now: () => number;
}

/**
 * A Teams Workflows webhook: 2xx (Power Automate answers 202) sent; 429/5xx retried, honouring
 * `Retry-After`; 404/403/410 mean the flow was deleted, turned off or its URL revoked, so the
 * destination is disabled; other 4xx fail the message. Not idempotent: the flow posts every request.
 */
export function createTeamsSink(opts: TeamsOptions): PreviewSink {
  return {
    idempotent: false,
    dedupeFanout: true,
    allowsSecrets: false,
    async send(ctx: SendContext): Promise<SendResult> {
      const body = renderTeamsMessage(ctx.envelope);
      const answer = await postJson(opts.fetch, opts.url, body, { timeoutMs: opts.timeoutMs });
      if (answer.kind !== "response") return failureResult(answer, false);
      const result = statusResult(answer, opts.now(), "Teams workflow");
      if (result.state !== "permanent_failure") return result;
      return [403, 404, 410].includes(answer.status)
        ? goneResult(result.reason, answer.status)
        : result;
    },
    preview(ctx: SendContext): Preview {
      return { body: renderTeamsMessage(ctx.envelope) };
    },
  };
}

/** What the `teams` type reads from the relay's configuration. */
interface TeamsSettings {
  readonly teams: { readonly webhookUrl?: string; readonly eventsTracked: EventFilter };
}

/**
 * The `teams` destination type. The flow URL is signed (`sig=…`): whoever has it can post to the
 * channel, so it is a secret. `TEAMS_WEBHOOK_URL` / `TEAMS_EVENTS_TRACKED` define one.
 */
export const teams = destinationType({
  type: "teams",
  schema: z.strictObject({ url: httpUrl }),
  secretFields: ["url"],
  create: (c, deps) =>
    createTeamsSink({ url: c.url, fetch: deps.fetch, now: deps.now, timeoutMs: deps.timeoutMs }),
  env: ({ teams }: TeamsSettings) =>
    teams.webhookUrl
      ? {
        events: teams.eventsTracked,
        // The signature is in the query: describe the flow by host only.
        description: `Teams workflow at ${new URL(teams.webhookUrl).host}`,
        configuration: { url: teams.webhookUrl },
      }
      : undefined,
});
