/**
 * `coder-relay healthcheck`: asks the running relay's `/readyz` and exits 0 when it is ready. For
 * container `HEALTHCHECK`s in images without curl or a shell (distroless), where the relay's own
 * binary is the only program there is.
 *
 * @module
 */
import type { Config } from "./config.ts";

/** The URL of `/readyz` on this host for the configured listen address (wildcards → loopback). */
export function readyzUrl(config: Pick<Config, "host" | "port">): string {
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}/readyz`;
}

/** True when `/readyz` answers 200 within `timeoutMs`. */
export async function healthcheck(
  config: Pick<Config, "host" | "port">,
  timeoutMs = 5000,
): Promise<boolean> {
  try {
    const res = await fetch(readyzUrl(config), { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}
