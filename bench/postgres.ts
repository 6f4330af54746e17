/**
 * `deno run -A bench/postgres.ts`: how fast relays on the PostgreSQL store accept webhooks, at one
 * and at three replicas, against a same-run reference on the same database.
 *
 * Phases, each on a fresh schema, load from a separate process over loopback:
 * - `reference`: a pgbench-style loop, one autocommitted `INSERT` of a webhook-sized row per
 *   operation from the same number of concurrent clients: what one commit per request costs here;
 * - `store, batch 1` and `store, group commit`: `store.accept` called directly (no HTTP) with
 *   group commit off and on, to show what batching buys;
 * - `relay ×1`, `relay ×3`: `main.ts serve` processes on one database, load spread round-robin,
 *   delivering to a stub PlatformX that answers at once (delivery runs during the load, as in
 *   production). Afterwards the schema is counted, so a phase that "accepted" what it did not store
 *   fails the run.
 *
 * The database is `RELAY_TEST_POSTGRES_URL`, or a throwaway cluster started (and stopped) with
 * `scripts/pg-test-cluster.sh`. Figures are medians over rounds, printed as ratios to the reference.
 *
 * Usage: `deno run -A bench/postgres.ts [--rounds=3] [--seconds=5] [--connections=32]`
 *
 * @module
 */
import postgres from "postgres";
import { option, START_V8_FLAGS } from "./task_flags.ts";
import { openPostgresStore } from "../src/store/postgres.ts";
import type { Store } from "../src/store/store.ts";
import { createTestSchema } from "../tests/helpers/postgres.ts";
import {
  freePort,
  golden,
  type RelayProcess,
  startRelayProcess,
  startStub,
  workspaceData,
} from "../tests/helpers/stubs.ts";
import { denoCommand, withTempDir } from "../tests/helpers/relay_process.ts";

/** What one load run measured. */
interface LoadResult {
  readonly ops: number;
  readonly errors: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const ROOT = new URL("../", import.meta.url).pathname;
const WARMUP_SECONDS = 1;

/** Runs `op` from `clients` concurrent loops for `seconds`; op(worker, n) must be unique per call. */
async function measure(
  clients: number,
  seconds: number,
  op: (worker: number, n: number) => Promise<boolean>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async (_, w) => {
    for (let n = 0; performance.now() < until; n++) {
      const t0 = performance.now();
      try {
        if (await op(w, n)) latencies.push(performance.now() - t0);
        else errors++;
      } catch {
        errors++;
      }
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    ops: latencies.length,
    errors,
    seconds: elapsed,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
  };
}

/** A webhook body with `__ID__` where each request puts its own id (new msg_id, new subject). */
async function template(): Promise<string> {
  const env = await golden("TemplateWorkspaceCreated.json", {
    data: workspaceData("owner-__ID__@example.com"),
  }, "__ID__");
  return JSON.stringify(env);
}

/** The load generator: `--load=URL,URL… --clients=N --seconds=S --tag=T`, prints one JSON line. */
async function loadMain() {
  const urls = option("load", "").split(",");
  const parts = (await template()).split("__ID__");
  const tag = option("tag", "x");
  const clients = Number(option("clients", "32"));
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: clients });
  const result = await measure(clients, Number(option("seconds", "5")), async (w, n) => {
    const res = await fetch(urls[w % urls.length], {
      method: "POST",
      client,
      headers: { "content-type": "application/json" },
      body: parts.join(`${tag}-${w}-${n}`),
    });
    await res.body?.cancel();
    return res.status === 202;
  });
  client.close();
  console.log(JSON.stringify(result));
}

/** Runs the load generator as its own process, so it does not share an event loop with a relay. */
async function load(urls: string[], clients: number, seconds: number, tag: string) {
  const out = await withTempDir((cwd) =>
    denoCommand("run", [
      "-A",
      import.meta.filename!,
      `--load=${urls.join(",")}`,
      `--clients=${clients}`,
      `--seconds=${seconds}`,
      `--tag=${tag}`,
    ], { cwd, stderr: "inherit" }).output()
  );
  if (!out.success) throw new Error("load generator failed");
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!) as LoadResult;
}

/** The database: the test one if configured, else a throwaway cluster of our own. */
async function database(): Promise<{ url: string; stop(): Promise<void> }> {
  const given = Deno.env.get("RELAY_TEST_POSTGRES_URL");
  if (given) return { url: given, stop: () => Promise.resolve() };
  const dir = await Deno.makeTempDir({ prefix: "coder-relay-bench-pg-" });
  const env = { PG_TEST_DIR: dir, PG_TEST_PORT: String(freePort()) };
  const script = `${ROOT}scripts/pg-test-cluster.sh`;
  const started = await new Deno.Command("bash", {
    args: [script, "start"],
    env,
    stderr: "inherit",
  })
    .output();
  if (!started.success) throw new Error("could not start a PostgreSQL test cluster");
  const url = new TextDecoder().decode(started.stdout).trim().replace(/^export [A-Z_]+=/, "");
  return {
    url,
    async stop() {
      await new Deno.Command("bash", { args: [script, "stop"], env }).output();
    },
  };
}

async function count(url: string, table: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [{ n }] = await sql.unsafe(`SELECT count(*)::int AS n FROM ${table}`);
    return n;
  } finally {
    await sql.end();
  }
}

type Phase = "reference" | "store, batch 1" | "store, group commit" | "relay ×1" | "relay ×3";
const PHASES: readonly Phase[] = [
  "reference",
  "store, batch 1",
  "store, group commit",
  "relay ×1",
  "relay ×3",
];

async function runPhase(
  phase: Phase,
  baseUrl: string,
  opts: { seconds: number; clients: number },
  round: number,
): Promise<LoadResult> {
  await using schema = await createTestSchema(baseUrl);
  const body = new TextEncoder().encode(await template());
  if (phase === "reference") {
    const sql = postgres(schema.url, { max: opts.clients, onnotice: () => {} });
    try {
      await sql`CREATE TABLE bench_ref (id text PRIMARY KEY, at bigint NOT NULL, body bytea NOT NULL)`;
      const insert = (w: number, n: number, tag: string) =>
        sql`INSERT INTO bench_ref VALUES (${`${tag}-${w}-${n}`}, ${Date.now()}, ${body})`
          .then(() => true);
      await measure(opts.clients, WARMUP_SECONDS, (w, n) => insert(w, n, "warm"));
      const r = await measure(opts.clients, opts.seconds, (w, n) => insert(w, n, "run"));
      const stored = await count(schema.url, "bench_ref");
      if (stored < r.ops) throw new Error(`reference stored ${stored} of ${r.ops}`);
      return r;
    } finally {
      await sql.end();
    }
  }
  if (phase.startsWith("store")) {
    const store: Store = await openPostgresStore(schema.url, {
      poolSize: 5,
      maxBatch: phase === "store, batch 1" ? 1 : undefined,
    });
    try {
      const accept = (w: number, n: number, tag: string) =>
        store.accept({
          msgId: `${tag}-${w}-${n}`,
          receivedAt: Date.now(),
          name: "Workspace Created",
          body,
          destinations: [{ id: "platformx", eventKey: `${tag}-${w}-${n}` }],
          dedupeWindowMs: 600_000,
        }).then((r) => r.status === "created");
      await measure(opts.clients, WARMUP_SECONDS, (w, n) => accept(w, n, "warm"));
      const r = await measure(opts.clients, opts.seconds, (w, n) => accept(w, n, "run"));
      const stored = await count(schema.url, "relay_messages");
      if (stored < r.ops) throw new Error(`${phase} stored ${stored} of ${r.ops}`);
      return r;
    } finally {
      await store.close();
    }
  }
  await using px = startStub(() => Response.json({ ok: true }));
  const replicas = phase === "relay ×3" ? 3 : 1;
  const relays: RelayProcess[] = await Promise.all(
    Array.from({ length: replicas }, () =>
      startRelayProcess({
        RELAY_STORE: schema.url,
        GETDX_API_URL: px.url,
        GETDX_API_KEY: "bench",
        LOG_LEVEL: "WARNING",
        // The relay as `deno task start` runs it.
        ...(START_V8_FLAGS ? { DENO_V8_FLAGS: START_V8_FLAGS } : {}),
      })),
  );
  try {
    const urls = relays.map((r) => r.url);
    await load(urls, opts.clients, WARMUP_SECONDS, `warm${round}`);
    const r = await load(urls, opts.clients, opts.seconds, `run${round}`);
    const stored = await count(schema.url, "relay_messages");
    if (stored < r.ops) throw new Error(`${phase} acknowledged ${r.ops} but stored ${stored}`);
    return r;
  } finally {
    for (const relay of relays) await relay.kill("SIGTERM");
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const opts = {
    rounds: Number(option("rounds", "3")),
    seconds: Number(option("seconds", "5")),
    clients: Number(option("connections", "32")),
  };
  const db = await database();
  const results = new Map<Phase, LoadResult[]>(PHASES.map((p) => [p, []]));
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const phase of PHASES) {
        const r = await runPhase(phase, db.url, opts, round);
        results.get(phase)!.push(r);
        console.error(
          `round ${round} ${phase.padEnd(20)} ${(r.ops / r.seconds).toFixed(0).padStart(6)}/s ` +
            `p50 ${r.p50Ms.toFixed(1)} ms p99 ${r.p99Ms.toFixed(1)} ms errors ${r.errors}`,
        );
      }
    }
  } finally {
    await db.stop();
  }
  const ref = results.get("reference")!;
  const refRate = median(ref.map((r) => r.ops / r.seconds));
  const refP99 = median(ref.map((r) => r.p99Ms));
  console.log(
    `\n${opts.rounds} rounds × ${opts.seconds} s, ${opts.clients} concurrent clients, ` +
      `${navigator.hardwareConcurrency} cores; medians; ratios to the reference of the same run\n`,
  );
  console.log("| phase | ops/s | × reference | p99 ms | p99 × reference | errors |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [phase, rs] of results) {
    const rate = median(rs.map((r) => r.ops / r.seconds));
    const p99 = median(rs.map((r) => r.p99Ms));
    const errors = rs.reduce((n, r) => n + r.errors, 0);
    console.log(
      `| ${phase} | ${rate.toFixed(0)} | ${(rate / refRate).toFixed(2)} | ${p99.toFixed(1)} | ` +
        `${(p99 / refP99).toFixed(2)} | ${errors} |`,
    );
  }
}

if (import.meta.main) {
  if (Deno.args.some((a) => a.startsWith("--load="))) await loadMain();
  else await main();
}
