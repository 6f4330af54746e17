/**
 * What every command shares: the {@linkcode Command} shape, argument parsing, output, the exit
 * statuses and the errors that choose them, and access to the relay's store and destinations.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import {
  createDestinations,
  destinationsFromConfig,
  sinkDepsFromConfig,
} from "../destinations/create.ts";
import type { Destination } from "../destinations/destination.ts";
import { setupLogging } from "../log.ts";
import { storeBackend } from "../store/open.ts";
import type { Store } from "../store/store.ts";

/** Exit statuses, after BSD's sysexits where one fits. */
export const EXIT = { ok: 0, failure: 1, usage: 64, config: 78 } as const;

/** What the dispatcher hands a command besides its arguments. */
export interface CliContext {
  /** Prints this command's help; returns the exit status for `--help`. */
  help(): number;
}

/**
 * One command: its name on the command line, a one-line summary for the command list, its
 * synopsis (`main.ts messages list [--state S] …`, one form per line, printed with a usage error),
 * its help (the flags and the values they take, for `<command> --help` and `help <command>`), and
 * what it does with the arguments after its name.
 */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly help: string;
  /**
   * Returns the exit status. Throws {@linkcode UsageError} (64), `ConfigError` (78) or
   * {@linkcode OperationError} (1); the dispatcher prints them.
   */
  run(args: string[], cli: CliContext): Promise<number>;
}

/** A bad command line: printed with the command's usage, exit 64. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * The operation failed (not found, nothing to retry, a send failed): exit 1. `code` is the
 * machine-readable `error` of `--json` output (the admin API's code when it came from there).
 */
export class OperationError extends Error {
  override name = "OperationError";
  constructor(message: string, readonly code = "failed") {
    super(message);
  }
}

/** Parsed flags: strings, booleans, or absent. */
export type Flags = Record<string, string | boolean | undefined>;

const COMMON = { json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

/** Help lines for the flags every command takes. */
export const COMMON_HELP = `  --json            print one JSON document on stdout, errors included
                    ({"error": code, "message": text})
  -h, --help        this help`;

/** Parses a command's arguments; every command also takes `--json` and `--help`. */
export function parse(args: string[], options: Record<string, { type: "string" | "boolean" }>) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...COMMON, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { flags: values as Flags, positionals };
  } catch (err) {
    // node:util's wording, cut to its first sentence: "Unknown option '--colour'".
    throw new UsageError((err as Error).message.split(/\. (?=[A-Z])/)[0]);
  }
}

/** Prints `value` as JSON with `--json`, else the human rendering. */
export function print(json: boolean, value: unknown, human: () => string) {
  console.log(json ? JSON.stringify(value, null, 2) : human());
}

/** Quiet logs for tools: warnings and errors only, so that stdout stays the command's output. */
export async function toolConfig(): Promise<Config> {
  const config = await loadConfig();
  await setupLogging({ logLevel: "warning", logFormat: config.logFormat });
  return config;
}

export async function withStore<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const backend = storeBackend(config.store);
  if (!backend.persistent) {
    throw new ConfigError(
      `RELAY_STORE is ${backend.label}; these commands need the relay's store file, or --url`,
    );
  }
  if (await backend.probe() === "absent") {
    throw new ConfigError(
      `RELAY_STORE: no store at ${config.store} (run this where the relay runs, with its ` +
        "settings, or reach the relay with --url and --token)",
    );
  }
  const store = await backend.open(config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The environment's destinations plus the store's subscriptions, as a running relay has them. */
async function allDestinations(config: Config, store: Store): Promise<readonly Destination[]> {
  return await createDestinations(config, { fetch, now: Date.now, store }).reload();
}

/** All destinations when the store exists; the environment's alone otherwise (no file created). */
export async function configuredAndStored(config: Config): Promise<readonly Destination[]> {
  return await storeExists(config)
    ? await withStore(config, (store) => allDestinations(config, store))
    : destinationsFromConfig(sinkDepsFromConfig(config, { fetch, now: Date.now }));
}

/** Whether the store file exists: tools that only read must not create an empty one. */
export async function storeExists(config: Config): Promise<boolean> {
  return await storeBackend(config.store).probe() === "present";
}
