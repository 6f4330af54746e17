/**
 * Test helper for the command line: `main.ts` as a real process, as an operator runs it.
 *
 * @module
 */
import { denoCommand, MAIN } from "./relay_process.ts";

/** What a finished run printed and how it exited. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `main.ts` as a real process in `cwd` (not the checkout) with only `env` set. */
export async function runMain(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<Run> {
  const out = await denoCommand("run", ["--allow-all", MAIN, ...args], { cwd, env }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}
