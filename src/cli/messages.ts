/**
 * `messages list|show|retry`: inspect and replay what the relay holds, through the admin API
 * (`client.ts`: the local store, or a running relay with `--url`).
 *
 * @module
 */
import { MessageQuerySchema, STATES } from "../admin/schemas.ts";
import { type AdminClient, REMOTE_HELP, REMOTE_OPTIONS, withClient } from "./client.ts";
import {
  type CliContext,
  type Command,
  COMMON_HELP,
  EXIT,
  type Flags,
  parse,
  print,
  UsageError,
} from "./common.ts";
import { parseDuration, waitForSettled } from "./wait.ts";

/** The command. */
export const messages: Command = {
  name: "messages",
  summary: "list, show and replay messages and their deliveries",
  usage: `main.ts messages list [--state S] [--destination D] [--event NAME]
                      [--since T] [--until T] [--limit N] [--cursor C]
main.ts messages show <msg_id>
main.ts messages retry <msg_id> [--destination D]
main.ts messages retry --failed --destination D [--wait [--timeout DURATION]]`,
  help: `Flags:
  --state S         list: messages with a delivery in state S, one of
                    ${STATES.slice(0, 4).join(", ")},
                    ${STATES.slice(4).join(", ")}
  --destination D   a destination id (check-config and webhooks list show them)
  --event NAME      list: a Coder notification name, e.g. "Workspace Created"
  --since T         list: received at or after T; --until T: before T. T is an ISO 8601
                    time (2026-01-31 or 2026-01-31T12:00:00Z) or milliseconds since epoch
  --limit N         list: at most N messages per page, 1 to 500 (default 50)
  --cursor C        list: the next page, as the previous page printed it
  --failed          retry: every permanent_failure and unknown delivery to --destination;
                    those that cannot succeed as configured are listed, not re-queued
  --wait            retry --failed: follow the re-queued deliveries until each is final,
                    then print a summary; exit 1 if any failed
  --timeout D       how long --wait waits: 90s, 5m, 1h (default 5m); exit 1 when it ends
${REMOTE_HELP}
${COMMON_HELP}

Without --url the commands work on RELAY_STORE, and a running relay sends re-queued deliveries
at its next poll.`,
  run,
};

const OPTIONS = {
  ...REMOTE_OPTIONS,
  state: { type: "string" },
  destination: { type: "string" },
  event: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  limit: { type: "string" },
  cursor: { type: "string" },
  failed: { type: "boolean" },
  wait: { type: "boolean" },
  timeout: { type: "string" },
} as const;

const LIST_FLAGS = ["state", "destination", "event", "since", "until", "limit", "cursor"];

interface DeliveryView {
  destination: string;
  state: string;
  attempts: number;
  status_reason: string | null;
  history?: {
    at: string;
    state: string;
    status_code: number | null;
    latency_ms: number;
    status_reason: string | null;
  }[];
}

interface MessageView {
  msg_id: string;
  event: string;
  received_at: string;
  size: number;
  deliveries: DeliveryView[];
}

function line(m: MessageView): string {
  const states = m.deliveries.map((d) => `${d.destination}:${d.state}`).join(" ");
  return `${m.received_at}  ${m.msg_id}  ${m.event}  ${states}`;
}

/** Only the flags a subcommand takes: a stray one is a usage error, not silently ignored. */
function only(flags: Flags, sub: string, allowed: readonly string[]) {
  const common = ["json", "help", "url", "token"];
  for (const [k, v] of Object.entries(flags)) {
    if (v !== undefined && !common.includes(k) && !allowed.includes(k)) {
      throw new UsageError(`messages ${sub} does not take --${k}`);
    }
  }
}

async function run(args: string[], cli: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  const { flags, positionals } = parse(rest, OPTIONS);
  if (flags.help || sub === "--help" || sub === "-h") return cli.help();
  const json = Boolean(flags.json);
  switch (sub) {
    case "list":
      only(flags, sub, LIST_FLAGS);
      if (positionals.length > 0) throw new UsageError("messages list takes no arguments");
      return await list(flags, json);
    case "show": {
      only(flags, sub, []);
      if (positionals.length !== 1) throw new UsageError("messages show takes one msg_id");
      const m: MessageView = await withClient(
        flags,
        "required",
        (c) => c.call("GET", `/messages/${encodeURIComponent(positionals[0])}`),
      );
      print(json, m, () => show(m));
      return EXIT.ok;
    }
    case "retry":
      only(flags, sub, ["destination", "failed", "wait", "timeout"]);
      return flags.failed
        ? await retryFailed(flags, positionals, json)
        : await retryOne(flags, positionals, json);
    default:
      throw new UsageError(
        sub ? `unknown messages command "${sub}"` : "messages needs list, show or retry",
      );
  }
}

async function list(flags: Flags, json: boolean): Promise<number> {
  const params: Record<string, string> = {};
  for (const k of LIST_FLAGS) if (typeof flags[k] === "string") params[k] = flags[k] as string;
  const parsed = MessageQuerySchema.safeParse(params);
  if (!parsed.success) {
    throw new UsageError(
      parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; "),
    );
  }
  const query = new URLSearchParams(params).toString();
  const page: { messages: MessageView[]; next_cursor: string | null } = await withClient(
    flags,
    "required",
    (c) => c.call("GET", `/messages${query ? `?${query}` : ""}`),
  );
  print(json, page, () =>
    [
      ...page.messages.map(line),
      page.messages.length === 0 ? "no messages" : "",
      page.next_cursor ? `more: --cursor ${page.next_cursor}` : "",
    ].filter(Boolean).join("\n"));
  return EXIT.ok;
}

function show(m: MessageView): string {
  return [
    `${m.msg_id}: ${m.event}, received ${m.received_at}, ${m.size} bytes`,
    ...m.deliveries.flatMap((d) => [
      `  ${d.destination}: ${d.state} after ${d.attempts} attempt(s)${
        d.status_reason ? `: ${d.status_reason}` : ""
      }`,
      ...(d.history ?? []).map((a) =>
        `    ${a.at} ${a.state} ${
          a.status_code ? `HTTP ${a.status_code}` : "-"
        } ${a.latency_ms} ms${a.status_reason ? ` ${a.status_reason}` : ""}`
      ),
    ]),
  ].join("\n");
}

async function retryOne(flags: Flags, positionals: string[], json: boolean): Promise<number> {
  if (positionals.length !== 1) throw new UsageError("messages retry takes one msg_id");
  if (flags.wait || flags.timeout) throw new UsageError("--wait goes with --failed");
  const msgId = positionals[0];
  const destination = flags.destination as string | undefined;
  const out: { msg_id: string; requeued: DeliveryView[] } = await withClient(
    flags,
    "required",
    (c) =>
      c.call(
        "POST",
        `/messages/${encodeURIComponent(msgId)}/retry`,
        destination ? { destination } : {},
      ),
  );
  print(
    json,
    out,
    () => `re-queued ${msgId} for ${out.requeued.map((d) => d.destination).join(", ")}`,
  );
  return EXIT.ok;
}

/** What `POST /messages/retry` answers. */
interface Replay {
  destination: string;
  requeued: number;
  msg_ids: string[];
  skipped: { msg_id: string; reason: string }[];
}

async function retryFailed(flags: Flags, positionals: string[], json: boolean): Promise<number> {
  const destination = flags.destination as string | undefined;
  if (positionals.length > 0 || !destination) {
    throw new UsageError("messages retry --failed takes --destination and no msg_id");
  }
  if (flags.timeout !== undefined && !flags.wait) {
    throw new UsageError("--timeout goes with --wait");
  }
  const timeoutMs = flags.timeout === undefined
    ? 5 * 60_000
    : parseDuration(flags.timeout as string);
  return await withClient(flags, "required", async (client: AdminClient) => {
    const replay: Replay = await client.call("POST", "/messages/retry", { destination });
    const skippedLines = replay.skipped.map((s) => `not re-queued: ${s.msg_id}: ${s.reason}`);
    if (!flags.wait) {
      print(
        json,
        replay,
        () =>
          [`re-queued ${replay.requeued} failed deliveries to ${destination}`, ...skippedLines]
            .join("\n"),
      );
      return EXIT.ok;
    }
    if (!json) {
      console.log(
        [`re-queued ${replay.requeued} failed deliveries to ${destination}`, ...skippedLines]
          .join("\n"),
      );
    }
    const result = await waitForSettled(client, destination, replay.msg_ids, {
      timeoutMs,
      progress: !json,
    });
    const { summary, ...settled } = result;
    print(json, { ...replay, ...settled }, () => summary);
    return result.sent === replay.msg_ids.length && replay.skipped.length === 0
      ? EXIT.ok
      : EXIT.failure;
  });
}
