/**
 * The command line: `serve` and the operator's tools, which work on the relay's own store file
 * (a running relay picks their changes up at its next poll). Output is for people; `--json` is for
 * scripts. Exit codes: 0 ok, 1 the operation failed, 64 usage, 78 configuration.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { messageJson } from "./admin/api.ts";
import { MessageQuerySchema } from "./admin/schemas.ts";
import { createDestinationSet } from "./admin/subscriptions.ts";
import { sendTest } from "./admin/test_send.ts";
import { describeFilter } from "./coder.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";
import {
  createSink,
  type Destination,
  destinationsFromConfig,
  route,
  sinkDepsFromConfig,
} from "./destinations.ts";
import { healthcheck } from "./healthcheck.ts";
import { HttpError } from "./http/errors.ts";
import { parseEnvelope } from "./http/webhook.ts";
import { setupLogging } from "./log.ts";
import { serve } from "./serve.ts";
import { request } from "./sinks/http.ts";
import type { ProbeResult } from "./sinks/sink.ts";
import { isPostgresUrl, openStore } from "./store/open.ts";
import type { MessageWithDeliveries, Store } from "./store/store.ts";
import { VERSION } from "./version.ts";

/** Exit statuses, after BSD's sysexits where one fits. */
export const EXIT = { ok: 0, failure: 1, usage: 64, config: 78 } as const;

/** The `--help` text. */
export const USAGE =
  `coder-relay ${VERSION}: Coder notification webhooks → PlatformX, Slack, webhooks

Usage: main.ts [serve]                       start the relay (default; \`deno task start\`)
       main.ts check-config [--online]        validate the configuration; --online tests credentials
       main.ts transform <file>               what each destination would receive for a Coder
                                              webhook body (no network)
       main.ts messages list [--state S] [--destination D] [--event NAME]
                             [--since T] [--until T] [--limit N] [--cursor C]
       main.ts messages show <msg_id>
       main.ts messages retry <msg_id> [--destination D]
       main.ts messages retry --failed --destination D
       main.ts send-test <destination> [--email E]
       main.ts healthcheck                    exit 0 if the relay on HOST:PORT is ready
                                              (container probes: the image has no curl)
       main.ts --version | --help

Every command but serve takes --json for machine-readable output. Configuration comes from the
environment and an optional .env file (see README.md); the messages commands open RELAY_STORE.
Exit status: 0 ok, 1 the operation failed, 64 usage error, 78 configuration error.`;

/** A bad command line: printed with the usage, exit 64. */
class UsageError extends Error {
  override name = "UsageError";
}

/** The operation failed (not found, nothing to retry, a send failed): exit 1. */
class OperationError extends Error {
  override name = "OperationError";
}

type Flags = Record<string, string | boolean | undefined>;

const COMMON = { json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

function parse(args: string[], options: Record<string, { type: "string" | "boolean" }>) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...COMMON, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { flags: values as Flags, positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function print(json: boolean, value: unknown, human: () => string) {
  console.log(json ? JSON.stringify(value, null, 2) : human());
}

/** Runs one command line and returns its exit status. `serve` returns after shutdown. */
export async function runCli(args: readonly string[]): Promise<number> {
  const [command = "serve", ...rest] = args;
  try {
    switch (command) {
      case "--version":
      case "-V":
        console.log(VERSION);
        return EXIT.ok;
      case "--help":
      case "-h":
      case "help":
        console.log(USAGE);
        return EXIT.ok;
      case "serve": {
        if (rest.length > 0) throw new UsageError(`serve takes no arguments`);
        const config = await loadConfig();
        await setupLogging(config);
        await serve(config);
        return EXIT.ok;
      }
      case "check-config":
        return await checkConfig(rest);
      case "transform":
        return await transform(rest);
      case "messages":
        return await messages(rest);
      case "send-test":
        return await sendTestCommand(rest);
      case "healthcheck":
        if (rest.length > 0) throw new UsageError(`healthcheck takes no arguments`);
        return await healthcheck(await loadConfig()) ? EXIT.ok : EXIT.failure;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`coder-relay: ${err.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (err instanceof ConfigError) {
      console.error(`coder-relay: ${err.message}`);
      return EXIT.config;
    }
    if (err instanceof OperationError || err instanceof HttpError) {
      console.error(`coder-relay: ${err.message}`);
      return EXIT.failure;
    }
    throw err;
  }
}

/** Quiet logs for tools: warnings and errors only, so that stdout stays the command's output. */
async function toolConfig(): Promise<Config> {
  const config = await loadConfig();
  await setupLogging({ logLevel: "warning", logFormat: config.logFormat });
  return config;
}

async function withStore<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  if (config.store === ":memory:") {
    throw new ConfigError("RELAY_STORE is :memory:; these commands need the relay's store file");
  }
  if (!isPostgresUrl(config.store) && !await storeExists(config)) {
    throw new ConfigError(
      `RELAY_STORE: no store at ${config.store} (run this where the relay runs, with its settings)`,
    );
  }
  const store = await openStore(config.store, config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The environment's destinations plus the store's subscriptions, as a running relay has them. */
async function allDestinations(config: Config, store: Store): Promise<readonly Destination[]> {
  const sinkDeps = sinkDepsFromConfig(config, { fetch, now: Date.now });
  return await createDestinationSet({
    configured: destinationsFromConfig(sinkDeps),
    store,
    build: (sub) => createSink(sub.type, sub.configuration, sinkDeps),
    now: Date.now,
  }).reload();
}

/** All destinations when the store exists; the environment's alone otherwise (no file created). */
async function configuredAndStored(config: Config): Promise<readonly Destination[]> {
  return await storeExists(config)
    ? await withStore(config, (store) => allDestinations(config, store))
    : destinationsFromConfig(sinkDepsFromConfig(config, { fetch, now: Date.now }));
}

/** Whether the store file exists: tools that only read must not create an empty one. */
async function storeExists(config: Config): Promise<boolean> {
  if (config.store === ":memory:" || isPostgresUrl(config.store)) return false;
  try {
    await Deno.stat(config.store);
    return true;
  } catch {
    return false;
  }
}

async function checkConfig(args: string[]): Promise<number> {
  const { flags } = parse(args, { online: { type: "boolean" } });
  if (flags.help) return help();
  const config = await toolConfig();
  const destinations = await configuredAndStored(config);
  const checks: { id: string; probe?: ProbeResult }[] = [];
  for (const d of destinations) {
    checks.push({
      id: d.id,
      probe: flags.online
        ? d.sink.probe
          ? await d.sink.probe()
          : { ok: true, detail: "no online check for this type" }
        : undefined,
    });
  }
  let coder: ProbeResult | undefined;
  if (flags.online && config.coder.url && config.coder.sessionToken) {
    const answer = await request(fetch, `${config.coder.url}/api/v2/users/me`, {
      headers: { "coder-session-token": config.coder.sessionToken },
      timeoutMs: config.delivery.sendTimeoutMs,
    });
    coder = answer.kind !== "response"
      ? { ok: false, detail: `Coder: ${answer.reason}` }
      : { ok: answer.status === 200, detail: `Coder answered HTTP ${answer.status}` };
  }
  const ok = checks.every((c) => c.probe?.ok !== false) && coder?.ok !== false;
  const report = {
    ok,
    store: isPostgresUrl(config.store) ? "postgres" : config.store,
    listen: `${config.host}:${config.port}`,
    inbound_auth: Boolean(config.authToken),
    admin_api: Boolean(config.adminToken),
    metrics_auth: Boolean(config.metricsToken),
    coder_lookup: coder ?? Boolean(config.coder.url && config.coder.sessionToken),
    destinations: destinations.map((d, i) => ({
      id: d.id,
      type: d.type,
      source: d.source,
      enabled: d.enabled,
      events: describeFilter(d.events),
      description: d.description,
      ...(checks[i].probe ? { online: checks[i].probe } : {}),
    })),
  };
  print(Boolean(flags.json), report, () =>
    [
      `configuration ok (store ${report.store}, listening on ${report.listen})`,
      `inbound auth: ${report.inbound_auth ? "token" : "none"}; admin API: ${
        report.admin_api ? "enabled" : "disabled (RELAY_ADMIN_TOKEN unset)"
      }; metrics: ${report.metrics_auth ? "token" : "open"}`,
      ...(coder ? [`coder lookup: ${coder.ok ? "ok" : "FAILED"}: ${coder.detail}`] : []),
      ...report.destinations.map((d) =>
        `destination ${d.id} (${d.type}, ${d.source}${d.enabled ? "" : ", disabled"}): ${
          d.events.join(", ")
        }${d.description ? ` — ${d.description}` : ""}${
          d.online ? `\n  online: ${d.online.ok ? "ok" : "FAILED"}: ${d.online.detail}` : ""
        }`
      ),
    ].join("\n"));
  return ok ? EXIT.ok : EXIT.failure;
}

async function transform(args: string[]): Promise<number> {
  const { flags, positionals } = parse(args, {});
  if (flags.help) return help();
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

function deliveryLine(m: MessageWithDeliveries): string {
  const states = m.deliveries.map((d) => `${d.destination}:${d.state}`).join(" ");
  return `${
    new Date(m.message.receivedAt).toISOString()
  }  ${m.message.msgId}  ${m.message.name}  ${states}`;
}

async function messages(args: string[]): Promise<number> {
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
  if (flags.help || sub === "--help" || sub === "-h") return help();
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

async function sendTestCommand(args: string[]): Promise<number> {
  const { flags, positionals } = parse(args, { email: { type: "string" } });
  if (flags.help) return help();
  if (positionals.length !== 1) throw new UsageError("send-test takes one destination id");
  const config = await toolConfig();
  const destinations = await configuredAndStored(config);
  const dest = destinations.find((d) => d.id === positionals[0]);
  if (!dest) {
    throw new OperationError(
      `no destination "${positionals[0]}" (known: ${destinations.map((d) => d.id).join(", ")})`,
    );
  }
  const outcome = await sendTest(dest, Date.now, flags.email as string | undefined);
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

function help(): number {
  console.log(USAGE);
  return EXIT.ok;
}
