/**
 * Chooses the backend from `RELAY_STORE`: a `postgres://` URL is PostgreSQL (several replicas may
 * share it); `deploy` is the platform's KV (Deno Deploy's), opened without a path so nothing is
 * written to local disk; anything else, a file path or `:memory:`, is Deno KV.
 *
 * @module
 */
import { type Config, DEPLOY_STORE } from "../config.ts";
import { openKvStore } from "./kv.ts";
import { openPostgresStore } from "./postgres.ts";
import type { Store } from "./store.ts";
import { withCircuitBreaker } from "./circuit.ts";

/** Whether `RELAY_STORE` names a PostgreSQL database. */
export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

/** Opens the store `RELAY_STORE` names. */
export function openStore(
  spec: string,
  options: Pick<Config, "pgPool"> & { settleLeases?: boolean },
): Promise<Store> {
  if (isPostgresUrl(spec)) {
    // A database that is down answers fast 503s instead of one connect timeout per request.
    return openPostgresStore(spec, { poolSize: options.pgPool }).then((s) =>
      withCircuitBreaker(s, 1000)
    );
  }
  return openKvStore(spec === DEPLOY_STORE ? undefined : spec, {
    settleLeases: options.settleLeases,
  });
}
