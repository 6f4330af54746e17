/**
 * The command line: `serve` and the operator's tools. The operator commands work on the relay's
 * own store, or on a running relay through its admin API with `--url` (see `client.ts`). Output is
 * for people; `--json` is for scripts, errors included. Exit codes: 0 ok, 1 the operation failed,
 * 64 usage, 78 configuration. Each command is one module under `src/cli/` exporting a
 * {@linkcode Command}; this module only dispatches and reports errors.
 *
 * @module
 */
import { ConfigError } from "../config.ts";
import { HttpError } from "../http/errors.ts";
import { VERSION } from "../version.ts";
import { checkConfig } from "./check_config.ts";
import { type Command, EXIT, OperationError, UsageError } from "./common.ts";
import { healthcheck } from "./healthcheck.ts";
import { messages } from "./messages.ts";
import { pause, resume } from "./pause.ts";
import { purge } from "./purge.ts";
import { sendTest } from "./send_test.ts";
import { serve } from "./serve.ts";
import { transform } from "./transform.ts";
import { webhooks } from "./webhooks.ts";

export { EXIT } from "./common.ts";

/** Every command, in the order the usage text lists them. */
export const COMMANDS: readonly Command[] = [
  serve,
  checkConfig,
  transform,
  messages,
  webhooks,
  pause,
  resume,
  purge,
  sendTest,
  healthcheck,
];

const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;

/** The `--help` text: the commands, one line each. */
export const USAGE =
  `coder-relay ${VERSION}: Coder notification webhooks → PlatformX, Slack, webhooks

Usage: main.ts <command> [arguments] [--json]
       main.ts help <command>      a command's flags and the values they take
       main.ts --version | --help

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

Configuration comes from the environment and an optional .env file (see README.md). The operator
commands open RELAY_STORE, or work on a running relay's admin API with --url (or RELAY_URL) and
--token (or RELAY_ADMIN_TOKEN). Every command but serve takes --json.
Exit status: 0 ok, 1 the operation failed, 64 usage error, 78 configuration error.`;

/** A command's full help: synopsis, then flags. */
export function helpText(command: Command): string {
  return `Usage: ${
    command.usage.replaceAll("\n", "\n       ")
  }\n\n${command.summary}\n\n${command.help}`;
}

function find(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command "${name}"`);
  return command;
}

/** Runs one command line and returns its exit status. `serve` returns after shutdown. */
export async function runCli(args: readonly string[]): Promise<number> {
  const [name = "serve", ...rest] = args;
  const json = rest.includes("--json");
  let command: Command | undefined;
  try {
    if (name === "--version" || name === "-V") {
      console.log(VERSION);
      return EXIT.ok;
    }
    if (name === "--help" || name === "-h" || name === "help") {
      const topic = name === "help" ? rest.find((a) => !a.startsWith("-")) : undefined;
      console.log(topic ? helpText(find(topic)) : USAGE);
      return EXIT.ok;
    }
    const found = command = find(name);
    return await found.run(rest, {
      help() {
        console.log(helpText(found));
        return EXIT.ok;
      },
    });
  } catch (err) {
    return report(err, command, json);
  }
}

/** Prints a failure (as `{error, message}` with `--json`) and returns its exit status. */
function report(err: unknown, command: Command | undefined, json: boolean): number {
  let code: string;
  let status: number;
  if (err instanceof UsageError) [code, status] = ["usage", EXIT.usage];
  else if (err instanceof ConfigError) [code, status] = ["config", EXIT.config];
  else if (err instanceof OperationError) [code, status] = [err.code, EXIT.failure];
  else if (err instanceof HttpError) [code, status] = [err.code, EXIT.failure];
  else throw err;
  const message = (err as Error).message;
  if (json) {
    const details = (err as { details?: unknown }).details;
    console.log(JSON.stringify({ error: code, message, ...(details ? { details } : {}) }, null, 2));
  } else if (err instanceof UsageError) {
    const usage = command
      ? `Usage: ${
        command.usage.replaceAll("\n", "\n       ")
      }\n(main.ts help ${command.name} for its flags)`
      : USAGE;
    console.error(`coder-relay: ${message}\n\n${usage}`);
  } else {
    console.error(`coder-relay: ${message}`);
  }
  return status;
}
