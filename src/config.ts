/**
 * Configuration: read once from the environment (and an optional `.env` file), validated with zod,
 * frozen. A wrong value stops start-up with a message that names the variable, so an operator never
 * has to guess which of twenty settings is off.
 *
 * @module
 */
import { z } from "zod";
import { type EventFilter, parseEventFilter } from "./coder.ts";
import { type DestinationSpec, parseConfigFile } from "./config_file.ts";
import { httpUrl, slackIcon } from "./sinks/fields.ts";
import { WEBHOOK_SECRET_PATTERN } from "./signing.ts";
import { type AddressAllowlist, parseAllowlist } from "./net/address_guard.ts";
import { redactUrl } from "./redact.ts";

/** Notifications the Python middleware tracked by default; `EVENTS_TRACKED` replaces the list. */
export const DEFAULT_EVENTS_TRACKED = [
  "Workspace Created",
  "Workspace Manually Updated",
  "User Account Created",
  "User Account Suspended",
  "User Account Activated",
] as const;

/** Where the embedded Deno KV store lives unless `RELAY_STORE` says otherwise. */
export const DEFAULT_STORE = "./data/relay.kv";

/** `RELAY_STORE` value for the platform's own KV (`Deno.openKv()` without a path): Deno Deploy's. */
export const DEPLOY_STORE = "deploy";

/** Log levels as the Python middleware spells them, mapped to logtape's. */
const LOG_LEVELS = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warning",
  WARN: "warning",
  ERROR: "error",
} as const;

/** A fully parsed, frozen configuration. Everything the relay reads from its environment is here. */
export interface Config {
  readonly logLevel: "debug" | "info" | "warning" | "error";
  readonly logFormat: "text" | "json";
  readonly host: string;
  readonly port: number;
  /** A Deno KV path, `:memory:`, `deploy` (Deno Deploy's KV), or a `postgres://` URL. */
  readonly store: string;
  /** Connections per process to the PostgreSQL store (unused with Deno KV). */
  readonly pgPool: number;
  readonly authToken?: string;
  /** Bearer token of the admin API (`/api/v1/`); absent: the admin API is disabled. */
  readonly adminToken?: string;
  /** Set: `GET /metrics` asks for it (Bearer, Basic password or `?token=`). */
  readonly metricsToken?: string;
  readonly maxBodyBytes: number;
  /** How long a webhook body may take to arrive before 408 (slow clients, slowloris). */
  readonly bodyTimeoutMs: number;
  /** Private addresses admin-API destinations may still reach (`RELAY_ALLOW_PRIVATE_DESTINATIONS`). */
  readonly allowPrivateDestinations: AddressAllowlist;
  readonly eventsTracked: EventFilter;
  readonly platformx: {
    /** Absent: PlatformX deliveries go to the dry-run log sink instead. */
    readonly apiKey?: string;
    readonly apiUrl: string;
  };
  readonly coder: {
    /** Both set: subjects without an email in `data` are looked up by username. */
    readonly url?: string;
    readonly sessionToken?: string;
  };
  readonly delivery: DeliveryConfig;
  readonly slack: {
    /** Set: a Web API destination (`slack`): DMs by email, or posts to `channel`. */
    readonly botToken?: string;
    readonly channel?: string;
    /** Set: an incoming-webhook destination (`slack-webhook`). */
    readonly webhookUrl?: string;
    /** Set: `POST /slack/interactions` verifies Slack's signature with it. */
    readonly signingSecret?: string;
    readonly username?: string;
    readonly icon?: string;
    readonly eventsTracked: EventFilter;
    readonly apiUrl: string;
  };
  /** Set `url`: one signed generic webhook destination (`webhook`). */
  readonly webhook: {
    readonly url?: string;
    readonly secret?: string;
    readonly eventsTracked: EventFilter;
  };
  /** Set `webhookUrl`: one Microsoft Teams Workflows destination (`teams`). */
  readonly teams: {
    readonly webhookUrl?: string;
    readonly eventsTracked: EventFilter;
  };
  /** Destinations from the `RELAY_CONFIG` file, validated. */
  readonly destinations: readonly DestinationSpec[];
}

/** The knobs of the delivery loop; tests shrink them to make retries fast. */
export interface DeliveryConfig {
  readonly maxAttempts: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly sendTimeoutMs: number;
  readonly dedupeWindowMs: number;
  readonly retentionMs: number;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly concurrency: number;
}

/** Raised for any invalid setting; `main.ts` prints its message and exits with status 78 (config). */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A `postgres://` URL that parses whole: a raw `#` or `@` in the password does not. */
function isParseablePostgresUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.hash === "" && s.split("@").length <= 2;
  } catch {
    return false;
  }
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.string().trim().regex(/^\d+$/, "expected a whole number").transform(Number).pipe(
    z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  );

const url = z.string().trim().pipe(
  z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
).transform((u) => u.replace(/\/+$/, ""));

const optionalSecret = z.string().trim().transform((s) => s === "" ? undefined : s).optional();

const EnvSchema = z.object({
  LOG_LEVEL: z.string().trim().toUpperCase().default("INFO").pipe(
    z.enum(Object.keys(LOG_LEVELS) as [keyof typeof LOG_LEVELS], {
      error: "expected DEBUG, INFO, WARNING or ERROR",
    }),
  ),
  RELAY_LOG_FORMAT: z.enum(["text", "json"]).default("text"),
  HOST: z.string().trim().min(1).default("0.0.0.0"),
  PORT: int(0, 65535).default(8080),
  RELAY_STORE: z.string().trim().min(1).refine(
    (s) => !/^postgres(ql)?:\/\//i.test(s) || isParseablePostgresUrl(s),
    "is not a valid PostgreSQL URL: percent-encode reserved characters in the password " +
      "(# as %23, @ as %40, / as %2F, ? as %3F)",
  ).optional(),
  RELAY_PG_POOL: int(1, 100).default(5),
  RELAY_AUTH_TOKEN: optionalSecret,
  RELAY_ADMIN_TOKEN: optionalSecret.pipe(
    z.string().min(16, "must be at least 16 characters").optional(),
  ),
  RELAY_METRICS_TOKEN: optionalSecret,
  RELAY_MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  RELAY_BODY_TIMEOUT_MS: int(100, 600_000).default(30_000),
  EVENTS_TRACKED: z.string().optional(),
  GETDX_API_KEY: optionalSecret,
  GETDX_API_URL: url.default("https://api.getdx.com"),
  CODER_URL: url.optional(),
  CODER_SESSION_TOKEN: optionalSecret,
  RELAY_MAX_ATTEMPTS: int(1, 1000).default(12),
  RELAY_RETRY_MIN_MS: int(1).default(1000),
  RELAY_RETRY_MAX_MS: int(1).default(15 * 60 * 1000),
  RELAY_SEND_TIMEOUT_MS: int(100).default(10_000),
  RELAY_DEDUPE_WINDOW_S: int(0).default(600),
  RELAY_RETENTION_DAYS: int(1, 3650).default(7),
  RELAY_LEASE_MS: int(1000).default(60_000),
  RELAY_POLL_MS: int(10).default(1000),
  RELAY_CONCURRENCY: int(1, 256).default(4),
  SLACK_BOT_TOKEN: optionalSecret,
  SLACK_CHANNEL: z.string().trim().optional(),
  SLACK_WEBHOOK_URL: httpUrl.optional(),
  SLACK_SIGNING_SECRET: optionalSecret,
  SLACK_USERNAME: z.string().trim().optional(),
  SLACK_ICON: slackIcon.optional(),
  SLACK_EVENTS_TRACKED: z.string().optional(),
  SLACK_API_URL: url.default("https://slack.com/api/"),
  WEBHOOK_URL: httpUrl.optional(),
  WEBHOOK_SECRET: z.string().trim().regex(
    WEBHOOK_SECRET_PATTERN,
    "expected whsec_ followed by base64 (a Standard Webhooks secret)",
  ).optional(),
  WEBHOOK_EVENTS_TRACKED: z.string().optional(),
  TEAMS_WEBHOOK_URL: httpUrl.optional(),
  TEAMS_EVENTS_TRACKED: z.string().optional(),
  RELAY_CONFIG: z.string().trim().optional(),
  /** Private addresses admin-API destinations may reach: CIDRs and host names, comma-separated. */
  RELAY_ALLOW_PRIVATE_DESTINATIONS: z.string().optional().transform((s, ctx) => {
    try {
      return parseAllowlist(s);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  }),
  /** Set by Deno Deploy; there the store defaults to the platform's KV instead of a file. */
  DENO_DEPLOYMENT_ID: z.string().optional(),
}).superRefine((env, ctx) => {
  if (env.RELAY_RETRY_MAX_MS < env.RELAY_RETRY_MIN_MS) {
    ctx.addIssue({
      code: "custom",
      path: ["RELAY_RETRY_MAX_MS"],
      message: `must not be below RELAY_RETRY_MIN_MS (${env.RELAY_RETRY_MIN_MS})`,
    });
  }
  if (env.RELAY_LEASE_MS <= env.RELAY_SEND_TIMEOUT_MS) {
    ctx.addIssue({
      code: "custom",
      path: ["RELAY_LEASE_MS"],
      message: `must exceed RELAY_SEND_TIMEOUT_MS (${env.RELAY_SEND_TIMEOUT_MS})`,
    });
  }
  for (
    const [name, needs] of [
      ["SLACK_CHANNEL", "SLACK_BOT_TOKEN"],
      ["WEBHOOK_SECRET", "WEBHOOK_URL"],
    ] as const
  ) {
    if (env[name] !== undefined && env[needs] === undefined) {
      ctx.addIssue({ code: "custom", path: [name], message: `is set but ${needs} is not` });
    }
  }
});

/**
 * A value copied from an example instead of filled in (`xoxb-…`, `...`, `changeme`, `<token>`):
 * refused, so that a half-edited `.env` stops start-up instead of failing every delivery.
 */
const PLACEHOLDER = /…|\.\.\.|^<[^<>]*>$|^change[-_ ]?me$/i;

/** Every environment variable the relay reads; the README's configuration table lists the same. */
export const ENV_VARS = Object.freeze(Object.keys(EnvSchema.shape));

/**
 * Parses an environment into a frozen {@linkcode Config}. Empty strings count as unset, as they do for
 * most twelve-factor tools, so `FOO=` in a `.env` file means "use the default".
 *
 * @throws {ConfigError} naming every invalid variable.
 */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const relevant: Record<string, string> = {};
  for (const key of ENV_VARS) {
    const value = env[key];
    if (value !== undefined && value.trim() !== "") relevant[key] = value;
  }
  const parsed = EnvSchema.safeParse(relevant);
  const placeholders = Object.keys(relevant).filter((k) => PLACEHOLDER.test(relevant[k].trim()));
  if (!parsed.success || placeholders.length > 0) {
    const lines = [
      ...placeholders.map((name) =>
        `${name}: looks like a placeholder copied from an example; set the real value or unset it`
      ),
      ...(parsed.error?.issues ?? []).flatMap((issue) => {
        const name = String(issue.path[0] ?? "environment");
        if (placeholders.includes(name)) return [];
        const shown = name in relevant && !/TOKEN|KEY|SECRET|WEBHOOK_URL/.test(name)
          ? ` (got ${JSON.stringify(redactUrl(relevant[name]))})`
          : "";
        return [`${name}: ${issue.message}${shown}`];
      }),
    ];
    throw new ConfigError(`invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  const e = parsed.data;
  return deepFreeze({
    logLevel: LOG_LEVELS[e.LOG_LEVEL],
    logFormat: e.RELAY_LOG_FORMAT,
    host: e.HOST,
    port: e.PORT,
    store: e.RELAY_STORE ?? (e.DENO_DEPLOYMENT_ID ? DEPLOY_STORE : DEFAULT_STORE),
    pgPool: e.RELAY_PG_POOL,
    authToken: e.RELAY_AUTH_TOKEN,
    adminToken: e.RELAY_ADMIN_TOKEN,
    metricsToken: e.RELAY_METRICS_TOKEN,
    maxBodyBytes: e.RELAY_MAX_BODY_BYTES,
    bodyTimeoutMs: e.RELAY_BODY_TIMEOUT_MS,
    allowPrivateDestinations: e.RELAY_ALLOW_PRIVATE_DESTINATIONS,
    eventsTracked: parseEventFilter(e.EVENTS_TRACKED ?? DEFAULT_EVENTS_TRACKED.join(",")),
    platformx: { apiKey: e.GETDX_API_KEY, apiUrl: e.GETDX_API_URL },
    coder: { url: e.CODER_URL, sessionToken: e.CODER_SESSION_TOKEN },
    delivery: {
      maxAttempts: e.RELAY_MAX_ATTEMPTS,
      retryMinMs: e.RELAY_RETRY_MIN_MS,
      retryMaxMs: e.RELAY_RETRY_MAX_MS,
      sendTimeoutMs: e.RELAY_SEND_TIMEOUT_MS,
      dedupeWindowMs: e.RELAY_DEDUPE_WINDOW_S * 1000,
      retentionMs: e.RELAY_RETENTION_DAYS * 86_400_000,
      leaseMs: e.RELAY_LEASE_MS,
      pollMs: e.RELAY_POLL_MS,
      concurrency: e.RELAY_CONCURRENCY,
    },
    slack: {
      botToken: e.SLACK_BOT_TOKEN,
      channel: e.SLACK_CHANNEL,
      webhookUrl: e.SLACK_WEBHOOK_URL,
      signingSecret: e.SLACK_SIGNING_SECRET,
      username: e.SLACK_USERNAME,
      icon: e.SLACK_ICON,
      eventsTracked: parseEventFilter(e.SLACK_EVENTS_TRACKED ?? "*"),
      apiUrl: e.SLACK_API_URL,
    },
    webhook: {
      url: e.WEBHOOK_URL,
      secret: e.WEBHOOK_SECRET,
      eventsTracked: parseEventFilter(e.WEBHOOK_EVENTS_TRACKED ?? "*"),
    },
    teams: {
      webhookUrl: e.TEAMS_WEBHOOK_URL,
      eventsTracked: parseEventFilter(e.TEAMS_EVENTS_TRACKED ?? "*"),
    },
    destinations: e.RELAY_CONFIG ? readConfigFile(e.RELAY_CONFIG, envDestinationIds(e)) : [],
  });
}

/** The ids of the destinations the environment defines; a config file may not reuse them. */
function envDestinationIds(e: z.infer<typeof EnvSchema>): Set<string> {
  const ids = new Set(["platformx"]);
  if (e.SLACK_BOT_TOKEN) ids.add("slack");
  if (e.SLACK_WEBHOOK_URL) ids.add("slack-webhook");
  if (e.WEBHOOK_URL) ids.add("webhook");
  if (e.TEAMS_WEBHOOK_URL) ids.add("teams");
  return ids;
}

/** Reads `RELAY_CONFIG` once, at start-up (hence synchronously), into validated specs. */
function readConfigFile(path: string, reserved: ReadonlySet<string>): DestinationSpec[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw new ConfigError(`RELAY_CONFIG: cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return parseConfigFile(text, reserved);
  } catch (err) {
    throw new ConfigError(`RELAY_CONFIG (${path}) is invalid:\n  ${(err as Error).message}`);
  }
}

/**
 * Reads a `.env` file (`KEY=value`, `#` comments, optional quotes, `export ` prefix) the way
 * python-dotenv does for the middleware we replace. A missing file is not an error.
 */
export async function readDotEnv(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw err;
  }
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = raw.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (!m) continue;
    let value = m[2];
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, "\n");
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    out[m[1]] = value;
  }
  return out;
}

/**
 * The configuration of this process: `.env` values fill in what the real environment leaves unset
 * (the environment wins, as with python-dotenv's default).
 */
export async function loadConfig(dotEnvPath = ".env"): Promise<Config> {
  const fromFile = await readDotEnv(dotEnvPath);
  return parseConfig({ ...fromFile, ...Deno.env.toObject() });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
