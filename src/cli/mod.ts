/**
 * The command line: `serve` and the operator's tools, which work on the relay's own store file
 * (a running relay picks their changes up at its next poll). Output is for people; `--json` is for
 * scripts. Exit codes: 0 ok, 1 the operation failed, 64 usage, 78 configuration. Each command is
 * one module under `src/cli/` exporting a {@linkcode Command}; this module only dispatches.
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
import { sendTest } from "./send_test.ts";
import { serve } from "./serve.ts";
import { transform } from "./transform.ts";

export { EXIT } from "./common.ts";

/** Every command, in the order the usage text lists them. */
export const COMMANDS: readonly Command[] = [
  serve,
  checkConfig,
  transform,
  messages,
  sendTest,
  healthcheck,
];

const INDENT = "       ";

/** The `--help` text. */
export const USAGE =
  `coder-relay ${VERSION}: Coder notification webhooks → PlatformX, Slack, webhooks

Usage: ${
    [...COMMANDS.map((c) => c.usage), "main.ts --version | --help"].join("\n")
      .replaceAll("\n", `\n${INDENT}`)
  }

Every command but serve takes --json for machine-readable output. Configuration comes from the
environment and an optional .env file (see README.md); the messages commands open RELAY_STORE.
Exit status: 0 ok, 1 the operation failed, 64 usage error, 78 configuration error.`;

const context = {
  help() {
    console.log(USAGE);
    return EXIT.ok;
  },
};

/** Runs one command line and returns its exit status. `serve` returns after shutdown. */
export async function runCli(args: readonly string[]): Promise<number> {
  const [name = "serve", ...rest] = args;
  try {
    if (name === "--version" || name === "-V") {
      console.log(VERSION);
      return EXIT.ok;
    }
    if (name === "--help" || name === "-h" || name === "help") return context.help();
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command "${name}"`);
    return await command.run(rest, context);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`coder-relay: ${err.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (err instanceof ConfigError) {
      console.error(`coder-relay: ${err.message}`);
      return EXIT.config;
    }
    if (err instanceof OperationError || err instanceof HttpError) {
      console.error(`coder-relay: ${err.message}`);
      return EXIT.failure;
    }
    throw err;
  }
}
