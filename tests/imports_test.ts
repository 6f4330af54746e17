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

/**
 * The layers of `src/`, lowest first (docs/architecture.md draws them). A module may import its own
 * layer or lower ones; the first matching prefix decides.
 */
const LAYERS: readonly (readonly string[])[] = [
  // primitives: no knowledge of the relay's parts
  [
    "bytes.ts",
    "coder.ts",
    "issues.ts",
    "log.ts",
    "version.ts",
    "ttl_cache.ts",
    "signing.ts",
    "delivery/backoff.ts",
    "store/group_commit.ts",
    "store/body_cache.ts",
    "store/live_keys.ts",
    "destinations/delivery.ts", // the per-destination delivery settings' schema: zod only
    "store/pg_immediates.ts",
    "store/pg_schema.ts",
    "presets/", // data: the webhook templates shipped as JSON
    "text/",
    "redact.ts",
    "log_format.ts",
    "log_limit.ts",
    "net/", // the address guard and the guarded fetch for admin-API destinations
  ],
  // contracts: what a store and a sink are, and the sinks' shared HTTP client
  [
    "store/store.ts",
    "store/records.ts",
    "store/rules.ts",
    "store/stats.ts",
    "sinks/sink.ts",
    "sinks/http.ts",
    "sinks/fields.ts",
    "sinks/markdown.ts",
  ],
  ["identity.ts", "sinks/slack_message.ts", "sinks/type.ts"],
  // implementations: destination types, store backends, metrics
  ["sinks/", "store/kv", "store/pg_", "store/postgres.ts", "store/circuit.ts", "metrics.ts"],
  // the registry and configuration
  ["destinations/registry.ts", "destinations/destination.ts", "config_file.ts", "config.ts"],
  ["store/open.ts", "healthcheck.ts", "startup_warnings.ts"],
  // running parts: the destination set, delivery, the HTTP surface
  ["destinations/", "delivery/", "http/"],
  // then the admin API, the console over it, the wiring, the server, the command line
  ["admin/"],
  ["console/"],
  ["app.ts"],
  ["serve.ts", "cron.ts"],
  ["cli/"],
];

function layerOf(file: string): number {
  const layer = LAYERS.findIndex((prefixes) => prefixes.some((p) => file.startsWith(p)));
  assert.ok(layer >= 0, `${file} has no layer: add it to LAYERS and to docs/architecture.md`);
  return layer;
}

Deno.test("imports: src/ has no import cycle, and no module imports a higher layer", async () => {
  const graph = new Map<string, string[]>();
  for (const file of await sourceFiles()) {
    const url = new URL(file, SRC);
    const text = await Deno.readTextFile(url);
    graph.set(
      file,
      relativeImports(text).map((s) => new URL(s, url).href)
        .filter((href) => href.startsWith(SRC.href)).map((href) => href.slice(SRC.href.length)),
    );
  }
  assert.ok(graph.size > 20, "the walk found the source files");
  const cycle = findCycle(graph);
  assert.equal(cycle, undefined, `import cycle: ${cycle?.join(" → ")}`);
  const upward = [...graph].flatMap(([file, imports]) =>
    imports.filter((i) => layerOf(i) > layerOf(file))
      .map((i) => `${file} → ${i}`)
  );
  assert.deepEqual(upward, [], "imports that run up the layers");
});
