/**
 * `transform <file>`: what each destination would receive for a Coder webhook body, rendered by the
 * sinks' offline previews (no network).
 *
 * @module
 */
import { route } from "../destinations/destination.ts";
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
  summary: "what each destination would receive for a Coder webhook body (no network)",
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
  const routed = new Set(route(destinations, envelope).map((d) => d.id));
  const receivedAt = Date.now();
  const results = destinations.map((d) => {
    if (!routed.has(d.id)) {
      return { destination: d.id, type: d.type, routed: false, note: "not routed here" };
    }
    const preview = d.sink.preview?.({ msgId: envelope.msg_id, envelope, receivedAt, attempt: 1 });
    return {
      destination: d.id,
      type: d.type,
      routed: true,
      ...(preview ?? { note: "this destination type has no offline preview" }),
    };
  });
  print(
    Boolean(flags.json),
    { msg_id: envelope.msg_id, destinations: results },
    () =>
      results.map((r) =>
        [
          `== ${r.destination} (${r.type})${r.routed ? "" : ": not routed here"}`,
          ...("note" in r && r.note && r.routed ? [`note: ${r.note}`] : []),
          ...("body" in r && r.body !== undefined ? [JSON.stringify(r.body, null, 2)] : []),
        ].join("\n")
      ).join("\n\n"),
  );
  return EXIT.ok;
}
