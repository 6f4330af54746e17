/**
 * Microsoft Teams through a Workflows (Power Automate) webhook, such as the stock template "Send
 * webhook alerts to a channel": one Adaptive Card per message ({@linkcode renderTeamsMessage}), so
 * the flow needs no custom parsing. The flow URL carries its own signature: it is a secret.
 *
 * Self-contained, as a destination type descriptor: schema, secret fields, factory, environment.
 *
 * @module
 */
import { z } from "zod";
import { httpUrl } from "../url.ts";
import { failureResult, type Fetch, postJson, statusResult } from "./http.ts";
import { goneResult, type Preview, type SendContext, type SendResult, type Sink } from "./sink.ts";
import { renderTeamsMessage } from "./teams_card.ts";

/** The `teams` destination's configuration: the Workflows webhook URL. */
export const TeamsConfigSchema = z.strictObject({ url: httpUrl });

/** The flow URL is signed (`sig=…`): whoever has it can post to the channel. */
export const TEAMS_SECRET_FIELDS: readonly string[] = ["url"];

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
export function createTeamsSink(opts: TeamsOptions): Sink {
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

/** The `teams` type as one descriptor: what a registry of destination types needs. */
export const teamsDestination = {
  type: "teams",
  schema: TeamsConfigSchema,
  secretFields: TEAMS_SECRET_FIELDS,
  create(
    config: z.output<typeof TeamsConfigSchema>,
    deps: { fetch: Fetch; now: () => number; timeoutMs: number },
  ): Sink {
    return createTeamsSink({ ...deps, url: config.url });
  },
  /** `TEAMS_WEBHOOK_URL` / `TEAMS_EVENTS_TRACKED` define one destination with id `teams`. */
  env: { url: "TEAMS_WEBHOOK_URL", events: "TEAMS_EVENTS_TRACKED" },
} as const;
