/**
 * `send-test <destination> [--email E]`: sends a synthetic Coder "Test Notification" straight
 * through one destination's sink, outside the store.
 *
 * @module
 */
import { sendTest as send } from "../admin/test_send.ts";
import {
  type CliContext,
  type Command,
  configuredAndStored,
  EXIT,
  OperationError,
  parse,
  print,
  toolConfig,
  UsageError,
} from "./common.ts";

/** The command. */
export const sendTest: Command = {
  name: "send-test",
  usage: "main.ts send-test <destination> [--email E]",
  run,
};

async function run(args: string[], cli: CliContext): Promise<number> {
  const { flags, positionals } = parse(args, { email: { type: "string" } });
  if (flags.help) return cli.help();
  if (positionals.length !== 1) throw new UsageError("send-test takes one destination id");
  const config = await toolConfig();
  const destinations = await configuredAndStored(config);
  const dest = destinations.find((d) => d.id === positionals[0]);
  if (!dest) {
    throw new OperationError(
      `no destination "${positionals[0]}" (known: ${destinations.map((d) => d.id).join(", ")})`,
    );
  }
  const outcome = await send(dest, Date.now, flags.email as string | undefined);
  const ok = outcome.state === "sent";
  print(
    Boolean(flags.json),
    { ok, ...outcome },
    () =>
      `${dest.id}: ${outcome.state}${
        outcome.status_code ? ` (HTTP ${outcome.status_code})` : ""
      } in ${outcome.latency_ms} ms${outcome.status_reason ? `: ${outcome.status_reason}` : ""}`,
  );
  return ok ? EXIT.ok : EXIT.failure;
}
