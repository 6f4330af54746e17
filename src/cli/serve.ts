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
  usage: "main.ts [serve]                       start the relay (default; `deno task start`)",
  async run(args) {
    if (args.length > 0) throw new UsageError(`serve takes no arguments`);
    const config = await loadConfig();
    await setupLogging(config);
    await serveRelay(config);
    return EXIT.ok;
  },
};
