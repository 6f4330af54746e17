/**
 * The repo stands alone: a fresh clone in an empty directory has everything its code and tests read.
 */
import assert from "node:assert/strict";

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
