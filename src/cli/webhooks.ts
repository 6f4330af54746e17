/**
 * `webhooks list|show|create|delete`: the destinations in force and the subscriptions an operator
 * adds, through the admin API (`client.ts`). Secrets come back redacted.
 *
 * @module
 */
import { TYPE_NAMES } from "../destinations/registry.ts";
import { REMOTE_HELP, REMOTE_OPTIONS, withClient } from "./client.ts";
import {
  type CliContext,
  type Command,
  COMMON_HELP,
  EXIT,
  OperationError,
  parse,
  print,
  UsageError,
} from "./common.ts";

/** The command. */
export const webhooks: Command = {
  name: "webhooks",
  summary: "list the destinations; show, create and delete subscriptions",
  usage: `main.ts webhooks list
main.ts webhooks show <id>
main.ts webhooks create --name N --type T --events E[,E…] --config JSON|@FILE|-
                        [--disabled]
main.ts webhooks delete <id>`,
  help: `Flags (create):
  --name N          a label for people
  --type T          one of ${TYPE_NAMES.join(", ")}
  --events E,…      Coder notification names, comma-separated, or "*" for all
  --config C        the type's configuration as a JSON object, @FILE to read it from a
                    file, or - for stdin (keeps secrets out of the process list)
  --disabled        store it, but deliver nothing to it yet
${REMOTE_HELP}
${COMMON_HELP}

list shows the environment's destinations (read-only) and the subscriptions; only subscriptions
can be deleted. See README.md for each type's configuration fields.`,
  run,
};

const OPTIONS = {
  ...REMOTE_OPTIONS,
  name: { type: "string" },
  type: { type: "string" },
  events: { type: "string" },
  config: { type: "string" },
  disabled: { type: "boolean" },
} as const;

interface WebhookView {
  id: string;
  name: string;
  type: string;
  event_types: string[];
  configuration: Record<string, unknown>;
  enabled: boolean;
  source: string;
  description?: string;
  warnings?: string[];
}

function line(w: WebhookView): string {
  return `${w.id}  ${w.type}  ${w.source}${w.enabled ? "" : " (disabled)"}  ${
    w.event_types.join(", ")
  }${w.source === "api" ? `  — ${w.name}` : w.description ? `  — ${w.description}` : ""}`;
}

async function readConfiguration(arg: string): Promise<unknown> {
  let text = arg;
  try {
    if (arg === "-") text = await new Response(Deno.stdin.readable).text();
    else if (arg.startsWith("@")) text = await Deno.readTextFile(arg.slice(1));
  } catch (err) {
    throw new OperationError(`--config: cannot read ${arg.slice(1)}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config: not a JSON object: ${(err as Error).message}`);
  }
}

async function run(args: string[], cli: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  const { flags, positionals } = parse(rest, OPTIONS);
  if (flags.help || sub === "--help" || sub === "-h") return cli.help();
  const json = Boolean(flags.json);
  const createFlags = ["name", "type", "events", "config", "disabled"];
  if (sub !== "create") {
    const stray = createFlags.find((k) => flags[k] !== undefined);
    if (stray) throw new UsageError(`webhooks ${sub ?? ""} does not take --${stray}`.trim());
  }
  switch (sub) {
    case "list": {
      if (positionals.length > 0) throw new UsageError("webhooks list takes no arguments");
      const out: { results: WebhookView[] } = await withClient(
        flags,
        "optional",
        (c) => c.call("GET", "/webhooks"),
      );
      print(json, out, () => out.results.map(line).join("\n") || "no destinations");
      return EXIT.ok;
    }
    case "show": {
      if (positionals.length !== 1) throw new UsageError("webhooks show takes one id");
      const w: WebhookView = await withClient(
        flags,
        "optional",
        (c) => c.call("GET", `/webhooks/${encodeURIComponent(positionals[0])}`),
      );
      print(
        json,
        w,
        () => `${line(w)}\nconfiguration: ${JSON.stringify(w.configuration, null, 2)}`,
      );
      return EXIT.ok;
    }
    case "create": {
      if (positionals.length > 0) throw new UsageError("webhooks create takes flags only");
      const missing = ["name", "type", "events", "config"].filter((k) => flags[k] === undefined);
      if (missing.length) {
        throw new UsageError(`webhooks create needs ${missing.map((k) => `--${k}`).join(", ")}`);
      }
      const body = {
        name: flags.name,
        type: flags.type,
        event_types: (flags.events as string).split(",").map((e) => e.trim()).filter(Boolean),
        configuration: await readConfiguration(flags.config as string),
        enabled: !flags.disabled,
      };
      const w: WebhookView = await withClient(
        flags,
        "required",
        (c) => c.call("POST", "/webhooks", body),
      );
      print(
        json,
        w,
        () =>
          [
            `created ${w.id} (${w.type}, ${w.name})`,
            ...(w.warnings ?? []).map((x) => `warning: ${x}`),
          ]
            .join("\n"),
      );
      return EXIT.ok;
    }
    case "delete": {
      if (positionals.length !== 1) throw new UsageError("webhooks delete takes one id");
      const id = positionals[0];
      await withClient(
        flags,
        "required",
        (c) => c.call("DELETE", `/webhooks/${encodeURIComponent(id)}`),
      );
      print(json, { id, deleted: true }, () => `deleted ${id}; its open deliveries are closed`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(
        sub ? `unknown webhooks command "${sub}"` : "webhooks needs list, show, create or delete",
      );
  }
}
