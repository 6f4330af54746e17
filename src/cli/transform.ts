/**
 * `transform <file>`: what each destination would receive for a Coder webhook body, rendered by the
 * sinks' offline previews (no network); the same previews as `POST /api/v1/preview`.
 *
 * @module
 */
import { formatPreviews, previewAll } from "../destinations/preview.ts";
import { parseEnvelope } from "../http/receiver.ts";
import {
  type CliContext,
  type Command,
  COMMON_HELP,
  configuredAndStored,
  EXIT,
  OperationError,
  parse,
  print,
  toolConfig,
  UsageError,
} from "./common.ts";

/** The command. */
export const transform: Command = {
  name: "transform",
  summary:
    "what each destination would receive for a Coder webhook body: bodies and headers (no network)",
  usage: "main.ts transform <file>",
  help: `Arguments:
  <file>            a Coder webhook body (JSON), as Coder POSTs it
Flags:
${COMMON_HELP}

Uses the configured destinations (environment, RELAY_CONFIG, and the store's subscriptions when
RELAY_STORE exists) and their offline previews; nothing is sent.`,
  run,
};

async function run(args: string[], cli: CliContext): Promise<number> {
  const { flags, positionals } = parse(args, {});
  if (flags.help) return cli.help();
  if (positionals.length !== 1) throw new UsageError("transform takes one file");
  const config = await toolConfig();
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(positionals[0]);
  } catch (err) {
    throw new OperationError(`cannot read ${positionals[0]}: ${(err as Error).message}`);
  }
  const envelope = parseEnvelope(bytes);
  const destinations = await configuredAndStored(config);
  const results = previewAll(destinations, envelope, Date.now());
  print(
    Boolean(flags.json),
    { msg_id: envelope.msg_id, destinations: results },
    () => formatPreviews(results),
  );
  return EXIT.ok;
}
