/**
 * `check-config [--online]`: validates the configuration and lists the destinations; `--online`
 * also asks each destination (and Coder) whether the credentials work.
 *
 * @module
 */
import { describeFilter } from "../coder.ts";
import { request } from "../sinks/http.ts";
import type { ProbeResult } from "../sinks/sink.ts";
import { storeBackend } from "../store/open.ts";
import {
  type CliContext,
  type Command,
  COMMON_HELP,
  configuredAndStored,
  EXIT,
  parse,
  print,
  toolConfig,
} from "./common.ts";

/** The command. */
export const checkConfig: Command = {
  name: "check-config",
  summary: "validate the configuration and list the destinations; --online tests credentials",
  usage: "main.ts check-config [--online]",
  help: `Flags:
  --online          also ask each destination whether its credentials work, without
                    delivering anything (PlatformX: an empty event; Slack: auth.test;
                    Coder: the session token); types with no such check say "not checked"
${COMMON_HELP}

Exit 0 when the configuration is valid (and, with --online, every check passed), 1 when an
online check failed, 78 when a variable is invalid (it is named).`,
  run,
};

async function run(args: string[], cli: CliContext): Promise<number> {
  const { flags } = parse(args, { online: { type: "boolean" } });
  if (flags.help) return cli.help();
  const config = await toolConfig();
  const destinations = await configuredAndStored(config);
  const checks: { id: string; probe?: ProbeResult }[] = [];
  for (const d of destinations) {
    checks.push({
      id: d.id,
      probe: flags.online
        ? d.sink.probe
          ? await d.sink.probe()
          : { ok: null, detail: `no online check for ${d.type} without delivering a message` }
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
    store: storeBackend(config.store).label,
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
          d.online ? `\n  online: ${onlineWord(d.online.ok)}: ${d.online.detail}` : ""
        }`
      ),
    ].join("\n"));
  return ok ? EXIT.ok : EXIT.failure;
}

function onlineWord(ok: boolean | null): string {
  return ok === null ? "not checked" : ok ? "ok" : "FAILED";
}
