/**
 * `send-test <destination> [--email E]`: sends a synthetic Coder "Test Notification" straight
 * through one destination's sink, outside the store, through the admin API (`client.ts`).
 *
 * @module
 */
import { DEFAULT_TEST_EMAIL } from "../admin/test_send.ts";
import { REMOTE_HELP, REMOTE_OPTIONS, withClient } from "./client.ts";
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
export const sendTest: Command = {
  name: "send-test",
  summary: "send a test notification to one destination, now",
  usage: "main.ts send-test <destination> [--email E]",
  help: `Arguments:
  <destination>     a destination id (webhooks list shows them)
Flags:
  --email E         whom the test is about: PlatformX records the event for this user, a
                    Slack DM destination writes to them (default ${DEFAULT_TEST_EMAIL})
${REMOTE_HELP}
${COMMON_HELP}

Exit 0 when the destination took it, 1 otherwise (the reason is printed).`,
  run,
};

interface Outcome {
  ok: boolean;
  destination: string;
  state: string;
  status_code?: number;
  status_reason?: string;
  latency_ms: number;
}

async function run(args: string[], cli: CliContext): Promise<number> {
  const { flags, positionals } = parse(args, { ...REMOTE_OPTIONS, email: { type: "string" } });
  if (flags.help) return cli.help();
  if (positionals.length !== 1) throw new UsageError("send-test takes one destination id");
  const email = flags.email as string | undefined;
  const outcome: Outcome = await withClient(
    flags,
    "optional",
    (c) =>
      c.call(
        "POST",
        `/webhooks/${encodeURIComponent(positionals[0])}/test`,
        email === undefined ? {} : { email },
      ),
  );
  print(
    Boolean(flags.json),
    outcome,
    () =>
      `${outcome.destination}: ${outcome.state}${
        outcome.status_code ? ` (HTTP ${outcome.status_code})` : ""
      } in ${outcome.latency_ms} ms${outcome.status_reason ? `: ${outcome.status_reason}` : ""}`,
  );
  return outcome.ok ? EXIT.ok : EXIT.failure;
}
