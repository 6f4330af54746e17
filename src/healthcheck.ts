/**
 * `coder-relay healthcheck`: asks the running relay's `/readyz` and exits 0 when it is ready. For
 * container `HEALTHCHECK`s in images without curl or a shell (distroless), where the relay's own
 * binary is the only program there is.
 *
 * @module
 */
import type { Config } from "./config.ts";
import { request } from "./sinks/http.ts";

/** The URL of `/readyz` on this host for the configured listen address (wildcards → loopback). */
export function readyzUrl(config: Pick<Config, "host" | "port">): string {
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}/readyz`;
}

/** What the health check found. */
export interface Readiness {
  readonly ready: boolean;
  readonly url: string;
  /** The HTTP status `/readyz` answered; absent when it did not answer. */
  readonly status_code?: number;
  /** `ready`, the relay's reason (`store unreachable`), or why nothing answered. */
  readonly detail: string;
}

/** Asks `url` (a `/readyz`) within `timeoutMs`; ready when it answers 200. Never throws. */
export async function healthcheck(url: string, timeoutMs = 5000): Promise<Readiness> {
  const answer = await request(fetch, url, { timeoutMs });
  if (answer.kind !== "response") return { ready: false, url, detail: answer.reason };
  let detail = `HTTP ${answer.status}`;
  try {
    const body = JSON.parse(answer.text) as { status?: unknown; error?: unknown };
    detail = [body.status, body.error].filter((x) => typeof x === "string").join(": ") || detail;
  } catch { /* not the relay's JSON: the status says enough */ }
  return { ready: answer.status === 200, url, status_code: answer.status, detail };
}
