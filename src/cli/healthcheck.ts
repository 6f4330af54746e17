/**
 * `healthcheck`: exit 0 if the relay on HOST:PORT is ready; for container probes in images
 * without curl.
 *
 * @module
 */
import { loadConfig } from "../config.ts";
import { healthcheck as ready } from "../healthcheck.ts";
import { type Command, EXIT, UsageError } from "./common.ts";

/** The command. */
export const healthcheck: Command = {
  name: "healthcheck",
  usage: `main.ts healthcheck                    exit 0 if the relay on HOST:PORT is ready
                                       (container probes: the image has no curl)`,
  async run(args) {
    if (args.length > 0) throw new UsageError(`healthcheck takes no arguments`);
    return await ready(await loadConfig()) ? EXIT.ok : EXIT.failure;
  },
};
