/**
 * What the benchmarks share about their load generators: `wrk` driven by `bench/post.lua`, and the
 * `BENCH_RESULT {json}` line every generator (`post.lua`, `load.ts`, `fetch_loop.ts`) prints.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;

/** `wrk` posting `templatePath` (its `__ID__` made unique per request with `tag`) to `url`. */
export function wrkCommand(
  url: string,
  opts: { connections: number; seconds: number; templatePath: string; tag: string },
): Deno.Command {
  return new Deno.Command("wrk", {
    args: [
      "-t2",
      `-c${opts.connections}`,
      `-d${opts.seconds}s`,
      "--timeout",
      "10s",
      "-s",
      `${ROOT}bench/post.lua`,
      url,
      "--",
      opts.templatePath,
      opts.tag,
    ],
    stdout: "piped",
    stderr: "piped",
  });
}

/** The generator's `BENCH_RESULT` line, parsed; throws with its output when there is none. */
export function benchResult<T>(out: Deno.CommandOutput, what: string): T {
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (!line) {
    throw new Error(`${what} failed:\n${text}\n${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(line.slice("BENCH_RESULT ".length)) as T;
}
