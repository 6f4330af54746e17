/**
 * `healthcheck`: asks the relay's `/readyz`, prints what it found and exits 0 if it is ready; for
 * container probes in images without curl.
 *
 * @module
 */
import { loadConfig } from "../config.ts";
import { healthcheck as ready, readyzUrl } from "../healthcheck.ts";
import { redactUrl } from "./client.ts";
import {
  type CliContext,
  type Command,
  COMMON_HELP,
  EXIT,
  parse,
  print,
  UsageError,
} from "./common.ts";

/** The command. */
export const healthcheck: Command = {
  name: "healthcheck",
  summary: "exit 0 if the relay is ready (container probes: the image has no curl)",
  usage: "main.ts healthcheck [--url URL] [--timeout-ms N]",
  help: `Asks GET /readyz of the relay on HOST:PORT (0.0.0.0 and :: mean loopback) and prints
the state it found: ready, unavailable (the store does not answer) or unreachable.

Flags:
  --url URL         ask the relay at URL instead (e.g. https://relay.example.com)
  --timeout-ms N    how long to wait for the answer, in milliseconds (default 5000)
${COMMON_HELP}`,
  run,
};

async function run(args: string[], cli: CliContext): Promise<number> {
  const { flags, positionals } = parse(args, {
    url: { type: "string" },
    "timeout-ms": { type: "string" },
  });
  if (flags.help) return cli.help();
  if (positionals.length > 0) throw new UsageError("healthcheck takes no arguments");
  const timeout = (flags["timeout-ms"] as string | undefined) ?? "5000";
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1) {
    throw new UsageError(`--timeout-ms: expected a whole number of milliseconds, got "${timeout}"`);
  }
  const url = flags.url
    ? `${(flags.url as string).replace(/\/+$/, "")}/readyz`
    : readyzUrl(await loadConfig());
  const found = await ready(url, Number(timeout));
  const shown = { ...found, url: redactUrl(found.url), detail: redactUrl(found.detail) };
  print(
    Boolean(flags.json),
    shown,
    () => `${shown.ready ? "ready" : "not ready"}: ${shown.url}: ${shown.detail}`,
  );
  return found.ready ? EXIT.ok : EXIT.failure;
}
