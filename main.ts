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
  const code = await runCli(Deno.args);
  // A failed command exits at once: nothing it started (a store lock request still waiting on an
  // older Deno, say) may keep the process alive after it has said why it stopped.
  if (code !== 0) Deno.exit(code);
}
