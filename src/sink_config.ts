/**
 * What each destination type's `configuration` holds: one schema per type, shared by the
 * `RELAY_CONFIG` file and subscriptions made through the admin API, so a destination means the same
 * whichever way it was defined. Unknown keys are refused: a typo (`chanel`) is an error, not a
 * silently ignored setting.
 *
 * @module
 */
import { z } from "zod";
import { WEBHOOK_SECRET_PATTERN } from "./signing.ts";
import { PRESET_NAMES, templateProblem } from "./sinks/template.ts";
import { TEAMS_SECRET_FIELDS, TeamsConfigSchema } from "./sinks/teams.ts";
import { httpUrl } from "./url.ts";

export { httpUrl };
/** An API base URL, without trailing slashes, as the sinks append `/method`. */
const apiUrl = httpUrl.transform((u) => u.replace(/\/+$/, ""));
const secret = z.string().trim().min(1, "must not be empty");

/** A Slack sender icon: `:emoji:` or an image URL. */
export const slackIcon = z.string().trim().regex(
  /^(:[\w+'-]+:|https?:\/\/\S+)$/,
  "expected :emoji: or an http(s) image URL",
);

const style = {
  username: z.string().trim().min(1).max(80).optional(),
  icon: slackIcon.optional(),
};

/** The configuration schema of every destination type. */
export const SINK_CONFIG_SCHEMAS = {
  platformx: z.strictObject({
    api_key: secret,
    /** Defaults to `GETDX_API_URL`. */
    api_url: apiUrl.optional(),
  }),
  slack: z.strictObject({
    token: secret.regex(/^xox[a-z]-/, "expected a Slack token (xoxb-…)"),
    /** A channel name or id; absent: a DM to each message's recipient, looked up by email. */
    channel: z.string().trim().min(1, "must not be empty").optional(),
    /** Defaults to `SLACK_API_URL`. */
    api_url: apiUrl.optional(),
    ...style,
  }),
  "slack-webhook": z.strictObject({ url: httpUrl, ...style }),
  webhook: z.strictObject({
    url: httpUrl,
    secret: z.string().trim().regex(WEBHOOK_SECRET_PATTERN, "expected whsec_ followed by base64")
      .optional(),
    headers: z.record(z.string(), z.string()).default({}),
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
      ctx.addIssue({
        code: "custom",
        path: ["preset"],
        message: "set template or preset, not both",
      });
    }
    const problem = c.template === undefined ? undefined : templateProblem(c.template);
    if (problem) ctx.addIssue({ code: "custom", path: ["template"], message: problem });
  }),
  teams: TeamsConfigSchema,
} as const;

/** A destination type. */
export type SinkType = keyof typeof SINK_CONFIG_SCHEMAS;

/** Every destination type, for validation messages. */
export const SINK_TYPES = Object.keys(SINK_CONFIG_SCHEMAS) as [SinkType, ...SinkType[]];

/** The parsed configuration of one type. */
export type SinkConfig<T extends SinkType> = z.output<(typeof SINK_CONFIG_SCHEMAS)[T]>;

/**
 * Configuration keys that are secrets: stored, used, never returned. A Slack incoming-webhook URL is
 * its own credential; webhook `headers` usually carry an `Authorization`.
 */
export const SECRET_FIELDS: Readonly<Record<SinkType, readonly string[]>> = {
  platformx: ["api_key"],
  slack: ["token"],
  "slack-webhook": ["url"],
  webhook: ["secret", "headers"],
  teams: TEAMS_SECRET_FIELDS,
};
