/**
 * The store backends, each described once: which `RELAY_STORE` values choose it, what logs call
 * it, whether its data lives in a local file, and how to open it. A `postgres://` URL is
 * PostgreSQL (several replicas may share it); `deploy` is the platform's KV (Deno Deploy's), opened
 * without a path so nothing is written to local disk; anything else, a file path or `:memory:`, is
 * Deno KV. Nothing outside `store/` needs to know these rules.
 *
 * @module
 */
import { type Config, DEPLOY_STORE } from "../config.ts";
import { openKvStore } from "./kv.ts";
import { openPostgresStore } from "./postgres.ts";
import type { Store } from "./store.ts";
import { withCircuitBreaker } from "./circuit.ts";

/** How to open a store. */
export type OpenOptions = Pick<Config, "pgPool"> & {
  /** KV only, and only with the file lock held: settle a dead process's leases at start. */
  readonly settleLeases?: boolean;
};

/** One backend as `RELAY_STORE` chooses it. */
export interface StoreBackend {
  /** What the start-up log calls it: `postgres`, `kv` or `:memory:`. */
  readonly kind: "postgres" | "kv" | ":memory:";
  /** What `check-config` shows: the file path, or `postgres` (a URL may carry a password). */
  readonly label: string;
  /** False for a store that lives only as long as the process (`:memory:`). */
  readonly persistent: boolean;
  /**
   * Whether a local store exists, without creating it: `absent` for a file not there yet (or
   * `:memory:`), `remote` for a database that only a connection can tell.
   */
  probe(): Promise<"present" | "absent" | "remote">;
  /** Opens (and for KV files creates) the store. */
  open(options: OpenOptions): Promise<Store>;
}

/** Whether `RELAY_STORE` names a PostgreSQL database. */
export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

/** The backend `RELAY_STORE` names. */
export function storeBackend(spec: string): StoreBackend {
  if (isPostgresUrl(spec)) {
    return {
      kind: "postgres",
      label: "postgres",
      persistent: true,
      probe: () => Promise.resolve("remote"),
      // A database that is down answers fast 503s instead of one connect timeout per request.
      open: async (options) =>
        withCircuitBreaker(await openPostgresStore(spec, { poolSize: options.pgPool }), 1000),
    };
  }
  if (spec === ":memory:") {
    return {
      kind: ":memory:",
      label: spec,
      persistent: false,
      probe: () => Promise.resolve("absent"),
      open: () => openKvStore(spec),
    };
  }
  return {
    kind: "kv",
    label: spec,
    persistent: true,
    async probe() {
      try {
        await Deno.stat(spec);
        return "present";
      } catch {
        return "absent";
      }
    },
    open: (options) =>
      openKvStore(spec === DEPLOY_STORE ? undefined : spec, {
        settleLeases: options.settleLeases,
      }),
  };
}

/** Opens the store `RELAY_STORE` names. */
export function openStore(spec: string, options: OpenOptions): Promise<Store> {
  return storeBackend(spec).open(options);
}
