/**
 * `messages list|show|retry`: inspect and replay what the relay's store holds. Works on the store
 * directly; a running relay picks the changes up at its next poll.
 *
 * @module
 */
import { messageJson, MessageQuerySchema } from "../admin/views.ts";
import type { MessageWithDeliveries } from "../store/store.ts";
import {
  type CliContext,
  type Command,
  EXIT,
  OperationError,
  parse,
  print,
  toolConfig,
  UsageError,
  withStore,
} from "./common.ts";

/** The command. */
export const messages: Command = {
  name: "messages",
  usage: `main.ts messages list [--state S] [--destination D] [--event NAME]
                      [--since T] [--until T] [--limit N] [--cursor C]
main.ts messages show <msg_id>
main.ts messages retry <msg_id> [--destination D]
main.ts messages retry --failed --destination D`,
  run,
};

function deliveryLine(m: MessageWithDeliveries): string {
  const states = m.deliveries.map((d) => `${d.destination}:${d.state}`).join(" ");
  return `${
    new Date(m.message.receivedAt).toISOString()
  }  ${m.message.msgId}  ${m.message.name}  ${states}`;
}

async function run(args: string[], cli: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  const { flags, positionals } = parse(rest, {
    state: { type: "string" },
    destination: { type: "string" },
    event: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
    failed: { type: "boolean" },
  });
  if (flags.help || sub === "--help" || sub === "-h") return cli.help();
  const json = Boolean(flags.json);
  switch (sub) {
    case "list": {
      if (positionals.length > 0) throw new UsageError("messages list takes no arguments");
      const { json: _j, help: _h, failed: _f, ...params } = flags;
      const parsed = MessageQuerySchema.safeParse(params);
      if (!parsed.success) {
        throw new UsageError(
          parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; "),
        );
      }
      const q = parsed.data;
      const config = await toolConfig();
      const page = await withStore(config, (store) =>
        store.listMessages(
          {
            state: q.state,
            destination: q.destination,
            name: q.event,
            since: q.since,
            until: q.until,
          },
          { cursor: q.cursor, limit: q.limit },
        ));
      print(json, {
        messages: page.items.map((m) => messageJson(m, false)),
        next_cursor: page.cursor ?? null,
      }, () =>
        [
          ...page.items.map(deliveryLine),
          page.items.length === 0 ? "no messages" : "",
          page.cursor ? `more: --cursor ${page.cursor}` : "",
        ].filter(Boolean).join("\n"));
      return EXIT.ok;
    }
    case "show": {
      if (positionals.length !== 1) throw new UsageError("messages show takes one msg_id");
      const config = await toolConfig();
      const found = await withStore(config, (store) => store.getMessage(positionals[0]));
      if (!found) throw new OperationError(`no message "${positionals[0]}"`);
      print(json, messageJson(found, true), () =>
        [
          `${found.message.msgId}: ${found.message.name}, received ${
            new Date(found.message.receivedAt).toISOString()
          }, ${found.message.size} bytes`,
          ...found.deliveries.flatMap((d) => [
            `  ${d.destination}: ${d.state} after ${d.attempts} attempt(s)${
              d.statusReason ? `: ${d.statusReason}` : ""
            }`,
            ...d.history.map((a) =>
              `    ${new Date(a.at).toISOString()} ${a.state} ${
                a.status ? `HTTP ${a.status}` : "-"
              } ${a.latencyMs} ms${a.reason ? ` ${a.reason}` : ""}`
            ),
          ]),
        ].join("\n"));
      return EXIT.ok;
    }
    case "retry": {
      const destination = flags.destination as string | undefined;
      const config = await toolConfig();
      if (flags.failed) {
        if (positionals.length > 0 || !destination) {
          throw new UsageError("messages retry --failed takes --destination and no msg_id");
        }
        const n = await withStore(config, (store) => store.retryFailed(destination, Date.now()));
        print(
          json,
          { destination, requeued: n },
          () => `re-queued ${n} failed deliveries to ${destination}`,
        );
        return EXIT.ok;
      }
      if (positionals.length !== 1) throw new UsageError("messages retry takes one msg_id");
      const msgId = positionals[0];
      const requeued = await withStore(config, async (store) => {
        if (!await store.getMessage(msgId)) throw new OperationError(`no message "${msgId}"`);
        return await store.retry(msgId, destination, Date.now());
      });
      if (requeued.length === 0) {
        throw new OperationError(`nothing to retry: no failed delivery of ${msgId}`);
      }
      print(
        json,
        { msg_id: msgId, requeued: requeued.map((d) => d.destination) },
        () =>
          `re-queued ${msgId} for ${
            requeued.map((d) => d.destination).join(", ")
          }; a running relay sends it at its next poll`,
      );
      return EXIT.ok;
    }
    default:
      throw new UsageError(
        sub ? `unknown messages command "${sub}"` : "messages needs list, show or retry",
      );
  }
}
