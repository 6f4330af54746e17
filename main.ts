/**
 * coder-relay: receives Coder notification webhooks and delivers them, durably and exactly once, to
 * DX PlatformX, Slack and signed webhooks. This file only hands the command line to `src/cli/mod.ts`
 * (`serve` by default); the rest lives in `src/`.
 *
 * @module
 */
import { runCli } from "./src/cli/mod.ts";
// Registers the Deno Deploy cron job at top level where the runtime offers Deno.cron.
import "./src/cron.ts";

if (import.meta.main) {
  Deno.exitCode = await runCli(Deno.args);
}
