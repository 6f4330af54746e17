/**
 * `pause [destination]` and `resume [destination]`: the operator's switches that hold delivery
 * back (accepting continues; deliveries wait in the store), through the admin API (`client.ts`).
 * Two commands, one module: they are the same switch.
 *
 * @module
 */
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

interface PauseView {
  paused: boolean;
  paused_destinations: string[];
  updated_at: string | null;
}

/** `paused: all` / `paused: slack, platformx` / `delivering to every destination`. */
export function describePause(p: PauseView): string {
  if (p.paused) return "delivery paused for every destination";
  if (p.paused_destinations.length) {
    return `delivery paused for ${p.paused_destinations.join(", ")}`;
  }
  return "delivering to every destination";
}

function switchCommand(name: "pause" | "resume"): Command {
  const verb = name === "pause" ? "stop" : "restart";
  return {
    name,
    summary: name === "pause"
      ? "hold delivery back (all, or one destination); accepting continues"
      : "deliver again after pause",
    usage: `main.ts ${name} [<destination>]${name === "pause" ? "\nmain.ts pause --status" : ""}`,
    help: `Arguments:
  <destination>     ${verb} delivery to this destination only (an id from webhooks list);
                    without it, the switch for every destination${
      name === "resume" ? " (destinations paused one by one\n                    stay paused)" : ""
    }
Flags:${name === "pause" ? "\n  --status          show the switches, change nothing" : ""}
${REMOTE_HELP}
${COMMON_HELP}`,
    async run(args: string[], cli: CliContext) {
      const { flags, positionals } = parse(args, {
        ...REMOTE_OPTIONS,
        ...(name === "pause" ? { status: { type: "boolean" } } : {}),
      });
      if (flags.help) return cli.help();
      if (positionals.length > 1) throw new UsageError(`${name} takes at most one destination`);
      if (flags.status && positionals.length) throw new UsageError("--status takes no destination");
      const destination = positionals[0];
      const state: PauseView = await withClient(
        flags,
        "required",
        (c) =>
          flags.status
            ? c.call("GET", "/pause")
            : c.call("POST", `/${name}`, destination ? { destination } : {}),
      );
      print(Boolean(flags.json), state, () => describePause(state));
      return EXIT.ok;
    },
  };
}

/** The `pause` command. */
export const pause: Command = switchCommand("pause");
/** The `resume` command. */
export const resume: Command = switchCommand("resume");
