/**
 * The flags a benchmark runs with: the V8 flags `deno task start` (and the compiled binaries) give
 * the relay, so that every benchmark measures the relay as users run it, and the benchmark's own
 * `--name=value` options.
 *
 * @module
 */
import meta from "../deno.json" with { type: "json" };

/** The value of `--v8-flags=` in the start task, for `DENO_V8_FLAGS`; undefined without one. */
export const START_V8_FLAGS: string | undefined = meta.tasks.start.match(/--v8-flags=(\S+)/)?.[1];

/** The value of the benchmark's own `--name=value` option, or `fallback`. */
export function option(name: string, fallback: string): string {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3) : fallback;
}
