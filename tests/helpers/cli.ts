/**
 * Test helper for the command line: `main.ts` as a real process, as an operator runs it.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** What a finished run printed and how it exited. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `main.ts` as a real process in `cwd` (no `.env` there) with only `env` set. */
export async function runMain(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<Run> {
  const passthrough: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const v = Deno.env.get(k);
    if (v) passthrough[k] = v;
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-kv", MAIN, ...args],
    cwd,
    env: { ...passthrough, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}
