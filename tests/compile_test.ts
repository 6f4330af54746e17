import assert from "node:assert/strict";
import meta from "../deno.json" with { type: "json" };
import { artifactName, parseArgs, runtimeFlags, TARGETS } from "../scripts/compile.ts";
import { denoCommand, ROOT, withTempDir } from "./helpers/relay_process.ts";

/** Runs `deno task compile --dry-run …` for real and returns the commands it would run. */
async function dryRun(...args: string[]): Promise<string[][]> {
  const out = await withTempDir((cwd) =>
    denoCommand("run", [
      "--allow-read",
      "--allow-run",
      `${ROOT}scripts/compile.ts`,
      "--dry-run",
      ...args,
    ], { cwd }).output()
  );
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => l.split(" "));
}

Deno.test("compile --dry-run: one command per target, named with version and target", async () => {
  const commands = await dryRun();
  assert.deepEqual(
    commands.map((c) => c[c.indexOf("--target") + 1]),
    [
      "x86_64-unknown-linux-gnu",
      "aarch64-unknown-linux-gnu",
      "x86_64-apple-darwin",
      "aarch64-apple-darwin",
      "x86_64-pc-windows-msvc",
    ],
  );
  for (const [i, c] of commands.entries()) {
    const target = TARGETS[i];
    const exe = target === "x86_64-pc-windows-msvc" ? ".exe" : "";
    assert.deepEqual(c, [
      "deno",
      "compile",
      "--unstable-kv",
      "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=20",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-sys=hostname,osRelease",
      "--target",
      target,
      "--output",
      `dist/coder-relay-${meta.version}-${target}${exe}`,
      "main.ts",
    ]);
    assert.ok(!c.some((arg) => arg.startsWith("--env-file")), "never bakes a .env in");
    assert.ok(!c.some((arg) => arg.startsWith("--include")), "nothing is read at run time");
  }
});

Deno.test("compile --target limits the build; an unknown target or flag is refused", async () => {
  const commands = await dryRun("--target", "aarch64-apple-darwin", "--target=x86_64-apple-darwin");
  assert.deepEqual(commands.map((c) => c.at(-2)), [
    `dist/coder-relay-${meta.version}-aarch64-apple-darwin`,
    `dist/coder-relay-${meta.version}-x86_64-apple-darwin`,
  ]);
  assert.throws(() => parseArgs(["--target", "riscv64-unknown-linux-gnu"]), /unknown target/);
  assert.throws(() => parseArgs(["--env-file"]), /unknown argument/);
});

Deno.test("binaries get the permissions and V8 flags of the start task, nothing else from it", () => {
  assert.deepEqual(
    runtimeFlags("deno run --watch --v8-flags=--jitless --allow-net --env-file main.ts serve"),
    ["--v8-flags=--jitless", "--allow-net"],
  );
  assert.equal(
    artifactName("x86_64-pc-windows-msvc", "9.9.9"),
    "coder-relay-9.9.9-x86_64-pc-windows-msvc.exe",
  );
});
