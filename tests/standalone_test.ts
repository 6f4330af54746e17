/**
 * The repo stands alone: a fresh clone in an empty directory has everything its code and tests read.
 */
import assert from "node:assert/strict";
import { denoCommand, ROOT as ROOT_PATH, withTempDir } from "./helpers/relay_process.ts";

const ROOT = new URL("../", import.meta.url);

/** Every file under `dir` (recursively), as paths relative to the repo root. */
async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(path);
    else if (e.isFile) yield path;
  }
}

Deno.test("no file under src/, tests/, bench/ or scripts/ names the folder beside the checkout", async () => {
  // Built from parts so that this file does not name it either.
  const needles = [[".."].concat("shared").join("/"), ["coder", "golden"].join("-")];
  const offenders: string[] = [];
  let files = 0;
  for (const dir of ["src", "tests", "bench", "scripts"]) {
    for await (const path of walk(dir)) {
      files++;
      const text = await Deno.readTextFile(new URL(path, ROOT));
      for (const needle of needles) if (text.includes(needle)) offenders.push(`${path}: ${needle}`);
    }
  }
  assert.ok(files > 50, `walked the tree (${files} files)`);
  assert.deepEqual(offenders, []);
});

Deno.test("Coder's rendered bodies are in the repo, each one listed in INDEX.tsv", async () => {
  const dir = new URL("tests/fixtures/coder/", ROOT);
  const index = (await Deno.readTextFile(new URL("INDEX.tsv", dir))).trim().split("\n").slice(1)
    .map((line) => line.split("\t")[0]);
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".json")) files.push(e.name);
  assert.ok(files.length >= 20, `${files.length} bodies`);
  assert.deepEqual(files.sort(), [...index].sort());
});

Deno.test("test subprocesses see none of the caller's relay settings and run outside the checkout", async () => {
  const leaked = {
    RELAY_AUTH_TOKEN: "y",
    GETDX_API_URL: "http://127.0.0.1:1/bogus",
    SLACK_BOT_TOKEN: "xoxb-1",
    WEBHOOK_URL: "http://127.0.0.1:1/",
    CODER_URL: "http://127.0.0.1:1/",
    TEAMS_WEBHOOK_URL: "http://127.0.0.1:1/",
  };
  const before = Object.fromEntries(Object.keys(leaked).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(leaked)) Deno.env.set(k, v);
  try {
    const out = await withTempDir(async (cwd) => {
      const res = await denoCommand("eval", [
        "console.log(JSON.stringify({ env: Deno.env.toObject(), cwd: Deno.cwd() }))",
      ], { cwd, env: { RELAY_STORE: ":memory:" } }).output();
      return { ...JSON.parse(new TextDecoder().decode(res.stdout)), dir: await Deno.realPath(cwd) };
    });
    const names = Object.keys(out.env);
    assert.deepEqual(names.filter((k) => /^(RELAY|GETDX|SLACK|WEBHOOK|CODER|TEAMS)_/.test(k)), [
      "RELAY_STORE",
    ]);
    assert.equal(out.cwd, out.dir);
    assert.notEqual(`${out.cwd}/`, ROOT_PATH);
  } finally {
    for (const [k, v] of Object.entries(before)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  }
  assert.throws(() => denoCommand("run", [], { cwd: ROOT_PATH }), /must not run in the checkout/);
});

Deno.test("tests and benchmarks start deno subprocesses only through relay_process.ts", async () => {
  const spawn = ["new Deno", "Command(Deno.execPath()"].join(".");
  const offenders: string[] = [];
  for (const dir of ["tests", "bench"]) {
    for await (const path of walk(dir)) {
      if (path.endsWith("helpers/relay_process.ts")) continue;
      if ((await Deno.readTextFile(new URL(path, ROOT))).includes(spawn)) offenders.push(path);
    }
  }
  assert.deepEqual(offenders, []);
});

Deno.test("docs: every docs/ page that src/ cites or a page links to exists", async () => {
  const missing: string[] = [];
  const exists = async (path: string) => {
    try {
      await Deno.stat(new URL(path, ROOT));
      return true;
    } catch {
      return false;
    }
  };
  const cite = ["DESIGN", "md"].join(".");
  for await (const path of walk("src")) {
    const text = await Deno.readTextFile(new URL(path, ROOT));
    if (text.includes(cite)) missing.push(`${path} cites ${cite}`);
    for (const [doc] of text.matchAll(/docs\/[a-z_-]+\.md/g)) {
      if (!await exists(doc)) missing.push(`${path} → ${doc}`);
    }
  }
  const pages = ["README.md"];
  // Pages only: a screenshot's bytes can look like a link.
  for await (const path of walk("docs")) if (path.endsWith(".md")) pages.push(path);
  for (const page of pages) {
    // Links outside code: fenced blocks and inline code spans are examples, not links.
    const text = (await Deno.readTextFile(new URL(page, ROOT)))
      .replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
    for (const [, target] of text.matchAll(/\]\(((?!https?:|#)[^)#\s]+)(#[^)]*)?\)/g)) {
      const path = new URL(target, new URL(page, ROOT)).pathname.slice(ROOT_PATH.length);
      if (!await exists(path)) missing.push(`${page} → ${target}`);
    }
  }
  assert.deepEqual(missing, []);
});

Deno.test("README: under 250 lines, a table of contents, no command that needs deno on PATH", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const lines = readme.split("\n");
  assert.ok(lines.length < 250, `${lines.length} lines`);
  assert.match(readme, /^## Contents$/m);
  let code = false;
  const bare: string[] = [];
  for (const line of lines) {
    if (line.startsWith("```")) code = !code;
    else if (code && /(^|[\s"(])deno (task|run|test|eval|compile)\b/.test(line)) {
      if (!/npx -y deno@\d/.test(line)) bare.push(line);
    }
  }
  assert.deepEqual(bare, []);
  const pinned = (await Deno.readTextFile(new URL(".ci/versions", ROOT))).match(
    /^deno_version=(.+)$/m,
  )![1];
  for (const [, v] of readme.matchAll(/npx -y deno@([\d.]+)/g)) assert.equal(v, pinned);
});
