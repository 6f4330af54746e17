/**
 * Logging: logtape, one category per concern under `coder-relay`. Records carry structured
 * properties; nothing at INFO may hold an email, a token or a passcode, so helpers here mask them.
 *
 * @module
 */
import { configure, getConsoleSink, getLogger, type Logger } from "@logtape/logtape";
import { createFormatter } from "./log_format.ts";

/** The relay's logger for one concern, e.g. `logger("delivery")`. */
export function logger(...category: string[]): Logger {
  return getLogger(["coder-relay", ...category]);
}

/** How the relay logs: the two settings `LOG_LEVEL` and `RELAY_LOG_FORMAT` choose. */
export interface LogOptions {
  readonly logLevel: "debug" | "info" | "warning" | "error";
  readonly logFormat: "text" | "json";
}

/** Sets up the console sink once, at the configured level and format. */
export async function setupLogging(config: LogOptions): Promise<void> {
  await configure({
    reset: true,
    sinks: {
      console: getConsoleSink({ formatter: createFormatter(config.logFormat) }),
    },
    loggers: [
      { category: ["coder-relay"], lowestLevel: config.logLevel, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}

/** `bobby@coder.com` → `b***@coder.com`: enough to tell two people apart in a DEBUG session. */
export function maskEmail(email: string | undefined): string | undefined {
  if (!email) return email;
  const at = email.indexOf("@");
  return at <= 0 ? "***" : `${email[0]}***${email.slice(at)}`;
}
