/**
 * The one way tests and benchmarks start a relay (or any `deno` subprocess of this repo): an explicit
 * environment and a temporary working directory, so a developer's exported `RELAY_*`/`GETDX_*`/…
 * variables or a `.env` in the checkout cannot change a result.
 *
 * @module
 */

/** The repo root, as a path. */
export const ROOT = new URL("../../", import.meta.url).pathname;
/** The repo's `deno.json`: subprocesses run from a temp directory, so they are given it. */
export const CONFIG = `${ROOT}deno.json`;
/** `main.ts`, as a path. */
export const MAIN = `${ROOT}main.ts`;

/**
 * What a subprocess inherits from the caller: only what finds `deno` and its caches (and colour
 * and update-check switches), never a setting of the relay.
 */
const PASSTHROUGH = [
  "PATH",
  "HOME",
  "TMPDIR",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  "DENO_TLS_CA_STORE",
  "DENO_NO_UPDATE_CHECK",
  "NPM_CONFIG_REGISTRY",
  "NO_COLOR",
];

/** The environment of a subprocess: the passthrough above plus `env`, nothing else. */
export function subprocessEnv(env: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of PASSTHROUGH) {
    const v = Deno.env.get(k);
    if (v !== undefined) out[k] = v;
  }
  return { ...out, ...env };
}

/** Options of {@link denoCommand}. */
export interface DenoCommandOptions {
  /** The only settings the process sees (besides {@link PASSTHROUGH}). */
  env?: Record<string, string>;
  /** Working directory; must not be the checkout (its `.env` would be read). */
  cwd: string;
  stdout?: "piped" | "inherit" | "null";
  stderr?: "piped" | "inherit" | "null";
}

/**
 * `deno <subcommand> --config deno.json <args…>` with a cleared environment in `cwd`. `args` name
 * files by absolute path (see {@link ROOT}, {@link MAIN}).
 */
export function denoCommand(
  subcommand: "run" | "eval",
  args: string[],
  opts: DenoCommandOptions,
): Deno.Command {
  if (`${opts.cwd.replace(/\/+$/, "")}/` === ROOT) {
    throw new Error("a subprocess must not run in the checkout: its .env would be read");
  }
  return new Deno.Command(Deno.execPath(), {
    args: [subcommand, "--config", CONFIG, ...args],
    cwd: opts.cwd,
    env: subprocessEnv(opts.env),
    clearEnv: true,
    stdout: opts.stdout ?? "piped",
    stderr: opts.stderr ?? "piped",
  });
}

/** Runs `fn` in a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "coder-relay-cwd-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
