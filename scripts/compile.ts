/**
 * `deno task compile`: one self-contained executable per platform in `dist/`, named
 * `coder-relay-<version>-<target>` so a release asset says what it is. The executables get the
 * permissions and V8 flags of `deno task start` (read from `deno.json`, so the two cannot drift)
 * and nothing else: no `--env-file`, so no secret from a local `.env` is ever baked in; the relay reads `.env`
 * from its working directory at run time. No `--include` either: the only file the relay reads at
 * run time is that `.env`, and `deno.json` (for the version) is a JSON import, part of the graph.
 *
 * `--dry-run` prints the commands instead of running them; `--target <triple>` (repeatable) limits
 * the build to those targets.
 *
 * @module
 */
import meta from "../deno.json" with { type: "json" };
import { VERSION } from "../src/version.ts";

/** Every platform a release ships for, as `deno compile --target` spells it. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** One of {@linkcode TARGETS}. */
export type Target = typeof TARGETS[number];

/**
 * The `--allow-*` and `--v8-flags` flags of `deno task start`: a binary may do exactly what the
 * task may, with the same memory profile.
 */
export function runtimeFlags(startTask: string = meta.tasks.start): string[] {
  return startTask.split(/\s+/).filter((arg) => /^--(allow-|v8-flags=)/.test(arg));
}

/** `coder-relay-0.1.0-x86_64-unknown-linux-gnu`, with `.exe` on Windows. */
export function artifactName(target: Target, version: string = VERSION): string {
  return `coder-relay-${version}-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** The `deno` arguments that build `target` into `outDir`. */
export function compileArgs(target: Target, version: string = VERSION, outDir = "dist"): string[] {
  return [
    "compile",
    "--unstable-kv",
    ...runtimeFlags(),
    "--target",
    target,
    "--output",
    `${outDir}/${artifactName(target, version)}`,
    "main.ts",
  ];
}

/** Parses the script's flags; unknown flags and targets are an error, not a silent full build. */
export function parseArgs(args: readonly string[]): { dryRun: boolean; targets: Target[] } {
  let dryRun = false;
  const targets: Target[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--dry-run") {
      dryRun = true;
    } else if (arg === "--target" || arg.startsWith("--target=")) {
      const value = arg === "--target" ? args[++i] : arg.slice("--target=".length);
      if (!TARGETS.includes(value as Target)) {
        throw new Error(`unknown target "${value}"; one of: ${TARGETS.join(", ")}`);
      }
      targets.push(value as Target);
    } else {
      throw new Error(`unknown argument "${arg}"; usage: compile.ts [--dry-run] [--target T]...`);
    }
  }
  return { dryRun, targets: targets.length > 0 ? targets : [...TARGETS] };
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url);
  const { dryRun, targets } = parseArgs(Deno.args);
  if (!dryRun) await Deno.mkdir(new URL("dist/", root), { recursive: true });
  for (const target of targets) {
    const args = compileArgs(target);
    console.log(`deno ${args.join(" ")}`);
    if (dryRun) continue;
    const { code } = await new Deno.Command(Deno.execPath(), { args, cwd: root }).spawn().status;
    if (code !== 0) {
      console.error(`compile for ${target} failed (exit ${code})`);
      Deno.exit(code);
    }
  }
}
