/**
 * What an operator should know at start-up about exposure: an open webhook receiver or an open
 * `/metrics` on a non-loopback address is allowed, but never silently.
 *
 * @module
 */
import type { Config } from "./config.ts";
import { classify, parseIp } from "./net/address_guard.ts";

/** Whether `host` (the `HOST` setting) listens on loopback only. */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  const ip = parseIp(host);
  return ip !== undefined && classify(ip) === "loopback";
}

/** The warnings for this configuration, one line each. */
export function startupWarnings(
  config: Pick<Config, "authToken" | "metricsToken" | "host">,
): string[] {
  const out: string[] = [];
  if (!config.authToken) {
    out.push(
      "inbound auth is open: RELAY_AUTH_TOKEN is not set, anyone who can reach the relay can post webhooks",
    );
  }
  if (!config.metricsToken && !isLoopbackHost(config.host)) {
    out.push(
      `/metrics is open on ${config.host}: set RELAY_METRICS_TOKEN or listen on loopback (HOST)`,
    );
  }
  return out;
}
