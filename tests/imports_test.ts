import assert from "node:assert/strict";

const SRC = new URL("../src/", import.meta.url);

/** Every `.ts` file under `src/`, as paths relative to it. */
async function sourceFiles(dir = SRC, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const rel = prefix + entry.name;
    if (entry.isDirectory) {
      out.push(...await sourceFiles(new URL(`${entry.name}/`, dir), `${rel}/`));
    } else if (entry.name.endsWith(".ts")) out.push(rel);
  }
  return out.sort();
}

/** The relative modules a file imports or re-exports statically, type-only imports included. */
export function relativeImports(text: string): string[] {
  const specifiers: string[] = [];
  const pattern =
    /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\s+from\s+)?["']([^"']+)["']/g;
  for (const m of text.matchAll(pattern)) if (m[1].startsWith(".")) specifiers.push(m[1]);
  return specifiers;
}

/** The first cycle in a graph, as the list of nodes around it; undefined when there is none. */
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "visiting") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "visiting");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

Deno.test("imports: the parser sees every static form, and the cycle finder finds cycles", () => {
  assert.deepEqual(
    relativeImports(
      `import { a } from "./a.ts";\nimport type { B } from "../b.ts";\nexport { c } from "./c.ts";\n` +
        `import "./d.ts";\nimport {\n  e,\n  type F,\n} from "./e.ts";\nimport { z } from "zod";\n`,
    ),
    ["./a.ts", "../b.ts", "./c.ts", "./d.ts", "./e.ts"],
  );
  assert.deepEqual(findCycle(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]])), [
    "a",
    "b",
    "c",
    "a",
  ]);
  assert.equal(findCycle(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]])), undefined);
});

Deno.test("imports: src/ has no import cycle", async () => {
  const graph = new Map<string, string[]>();
  for (const file of await sourceFiles()) {
    const url = new URL(file, SRC);
    const text = await Deno.readTextFile(url);
    graph.set(
      file,
      relativeImports(text).map((s) => new URL(s, url).href.slice(SRC.href.length)),
    );
  }
  assert.ok(graph.size > 20, "the walk found the source files");
  const cycle = findCycle(graph);
  assert.equal(cycle, undefined, `import cycle: ${cycle?.join(" → ")}`);
});
