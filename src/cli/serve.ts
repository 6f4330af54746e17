/**
 * `serve`: the long-running relay, at the configured log level (the default command).
 *
 * @module
 */
import { loadConfig } from "../config.ts";
import { setupLogging } from "../log.ts";
import { serve as serveRelay } from "../serve.ts";
import { type Command, EXIT, UsageError } from "./common.ts";

/** The command. */
export const serve: Command = {
  name: "serve",
  summary: "start the relay (the default command; `deno task start`)",
  usage: "main.ts [serve]",
  help: "Takes no flags: the relay reads its configuration from the environment and .env\n" +
    "(README.md lists every variable). Stop it with SIGTERM or SIGINT.",
  async run(args, cli) {
    if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) return cli.help();
    if (args.length > 0) throw new UsageError(`serve takes no arguments`);
    const config = await loadConfig();
    await setupLogging(config);
    await serveRelay(config);
    return EXIT.ok;
  },
};
