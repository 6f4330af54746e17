/**
 * `deno task bench:delivery`: what happens after accepting (issue 14), each figure against a
 * same-run reference, median of several rounds (the machine is shared):
 * - `storm`: accept rate when every request is a fan-out copy of one event (one event key, new
 *   `msg_id`s) over the rate for distinct events, same relay build, same round; and the relay's
 *   accept p99 for distinct events over the p99 of `bench/reference.ts` (bare `Deno.serve` + one
 *   `kv.set`), all with `wrk` at `--connections`;
 * - `drain`: a paused backlog of `--backlog` messages to a loopback stub that answers at once,
 *   resumed and timed until the stub has them all, over `bench/fetch_loop.ts` posting as many
 *   bodies to the same stub with the same number of requests in flight (`RELAY_CONCURRENCY`);
 * - `scrape`: with `--queued` messages queued (delivery paused), the time of `GET /metrics`, of a
 *   filtered `GET /api/v1/messages` page that matches nothing (the worst case: every scanned
 *   message is rejected) and of the unfiltered first page; and the start-up time on that store
 *   against an empty one.
 *
 * Usage: `deno task bench:delivery [--rounds=3] [--seconds=5] [--connections=64] [--backlog=5000]
 * [--queued=50000] [--phases=storm,drain,scrape] [--store=kv|postgres]`. With `--store=postgres`,
 * `RELAY_BENCH_POSTGRES_URL` names a throwaway database (every phase drops its tables first).
 *
 * @module
 */
import { option, START_V8_FLAGS } from "./task_flags.ts";
import {
  freePort,
  golden,
  type RelayProcess,
  startRelayProcess,
  startStub,
  type Stub,
  workspaceData,
} from "../tests/helpers/stubs.ts";
import { denoCommand } from "../tests/helpers/relay_process.ts";
import { benchResult, wrkCommand } from "./wrk.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TOKEN = "bench-admin-token";

const opts = {
  rounds: Number(option("rounds", "3")),
  seconds: Number(option("seconds", "5")),
  connections: Number(option("connections", "64")),
  backlog: Number(option("backlog", "5000")),
  queued: Number(option("queued", "50000")),
  concurrency: Number(option("concurrency", "4")),
  phases: option("phases", "storm,drain,scrape").split(","),
  store: option("store", "kv") as "kv" | "postgres",
};

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Distinct events: every `__ID__` (msg_id, owner) differs per request. */
async function distinctTemplate(): Promise<string> {
  const data = workspaceData("u-__ID__@example.com");
  return JSON.stringify(
    await golden("TemplateWorkspaceCreated.json", {
      data: { ...data, owner: { ...data.owner, id: "__ID__", name: "user-__ID__" } },
    }, "__ID__"),
  );
}

/** Fan-out copies of one event: only `msg_id` and the recipient differ. */
async function stormTemplate(): Promise<string> {
  return JSON.stringify(
    await golden("TemplateWorkspaceCreated.json", {
      data: workspaceData(),
      user_id: "__ID__",
      user_email: "r-__ID__@example.com",
    }, "__ID__"),
  );
}

interface Load {
  readonly rps: number;
  readonly p99Ms: number;
  readonly errors: number;
}

async function wrk(url: string, seconds: number, templatePath: string, tag: string): Promise<Load> {
  const out = await wrkCommand(url, { connections: opts.connections, seconds, templatePath, tag })
    .output();
  const r = benchResult<Record<string, number>>(out, "wrk");
  const errors = r.statusErrors + r.connectErrors + r.readErrors + r.writeErrors + r.timeouts;
  return {
    rps: (r.requests - r.statusErrors) / (r.durationUs / 1e6),
    p99Ms: r.p99Us / 1000,
    errors,
  };
}

async function resetPostgres(url: string) {
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, { onnotice: () => {} });
  try {
    await sql.unsafe("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  } finally {
    await sql.end();
  }
}

/** A relay on a fresh store (or `store`, to reopen one), delivering to `stub`. */
async function relay(
  dir: string,
  stub: Stub | undefined,
  extra: Record<string, string> = {},
  reuse = false,
): Promise<RelayProcess> {
  await Deno.mkdir(dir, { recursive: true });
  const pgUrl = Deno.env.get("RELAY_BENCH_POSTGRES_URL");
  if (opts.store === "postgres" && !pgUrl) throw new Error("set RELAY_BENCH_POSTGRES_URL");
  if (opts.store === "postgres" && !reuse) await resetPostgres(pgUrl!);
  return await startRelayProcess({
    RELAY_STORE: opts.store === "postgres" ? pgUrl! : `${dir}/store.kv`,
    LOG_LEVEL: "WARNING",
    GETDX_API_KEY: "bench",
    GETDX_API_URL: stub?.url ?? `http://127.0.0.1:${freePort()}`,
    RELAY_ADMIN_TOKEN: TOKEN,
    RELAY_CONCURRENCY: String(opts.concurrency),
    ...(START_V8_FLAGS ? { DENO_V8_FLAGS: START_V8_FLAGS } : {}),
    ...extra,
  });
}

async function admin(url: string, path: string, method = "GET"): Promise<Response> {
  return await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}` },
  });
}

/** Posts `count` distinct messages with `parallel` requests in flight; throws on any non-2xx. */
async function fill(url: string, template: string, count: number, tag: string, parallel = 32) {
  let next = 0;
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: parallel });
  try {
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (next < count) {
        const id = `${tag}-${next++}`;
        const res = await fetch(`${url}/`, {
          method: "POST",
          client,
          headers: { "content-type": "application/json" },
          body: template.replaceAll("__ID__", id),
        });
        await res.body?.cancel();
        if (!res.ok) throw new Error(`fill: ${res.status}`);
      }
    }));
  } finally {
    client.close();
  }
}

/** Milliseconds of `fn`, median of `n` runs after one warm-up. */
async function timeIt(n: number, fn: () => Promise<Response>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i <= n; i++) {
    const t0 = performance.now();
    const res = await fn();
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${res.url}: ${res.status}`);
    if (i > 0) ms.push(performance.now() - t0);
  }
  return median(ms);
}

async function until(cond: () => boolean, timeoutMs: number, what: string) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function reference(dir: string, templatePath: string, tag: string): Promise<Load> {
  const server = await startRelayProcess({ RELAY_STORE: `${dir}/ref.kv` }, ["bench/reference.ts"]);
  try {
    await wrk(`${server.url}/`, 1, templatePath, `${tag}-warm`);
    return await wrk(`${server.url}/`, opts.seconds, templatePath, tag);
  } finally {
    await server.kill("SIGTERM");
  }
}

async function acceptRun(dir: string, stub: Stub, templatePath: string, tag: string) {
  await using server = await relay(dir, stub);
  await wrk(`${server.url}/`, 1, templatePath, `${tag}-warm`);
  return await wrk(`${server.url}/`, opts.seconds, templatePath, tag);
}

async function storm(round: number, dir: string, stub: Stub) {
  const distinctPath = `${dir}/distinct.json`;
  const stormPath = `${dir}/storm.json`;
  await Deno.writeTextFile(distinctPath, await distinctTemplate());
  await Deno.writeTextFile(stormPath, await stormTemplate());
  const ref = await reference(dir, distinctPath, `ref${round}`);
  await Deno.remove(`${dir}/ref.kv`).catch(() => {});
  const distinct = await acceptRun(`${dir}/d`, stub, distinctPath, `d${round}`);
  const copies = await acceptRun(`${dir}/s`, stub, stormPath, `s${round}`);
  return {
    referenceRps: ref.rps,
    referenceP99: ref.p99Ms,
    distinctRps: distinct.rps,
    distinctP99: distinct.p99Ms,
    stormRps: copies.rps,
    errors: ref.errors + distinct.errors + copies.errors,
    stormRatio: copies.rps / distinct.rps,
    p99Ratio: distinct.p99Ms / ref.p99Ms,
  };
}

async function drain(round: number, dir: string, stub: Stub) {
  const template = await distinctTemplate();
  await using server = await relay(dir, stub);
  await (await admin(server.url, "/pause", "POST")).body?.cancel();
  await fill(server.url, template, opts.backlog, `b${round}`);
  const before = stub.seen.length;
  const t0 = performance.now();
  await (await admin(server.url, "/resume", "POST")).body?.cancel();
  await until(() => stub.seen.length - before >= opts.backlog, 600_000, "the backlog to drain");
  const relayRate = opts.backlog / ((performance.now() - t0) / 1000);
  // The reference posts what the relay posted: one of its request bodies.
  const bodyPath = `${dir}/sent.json`;
  await Deno.writeTextFile(bodyPath, stub.seen[stub.seen.length - 1].body);
  const out = await denoCommand("run", [
    "--allow-net",
    "--allow-read",
    `${ROOT}bench/fetch_loop.ts`,
    stub.url,
    String(opts.backlog),
    String(opts.concurrency),
    bodyPath,
  ], { cwd: dir }).output();
  const { sent, ms } = benchResult<{ sent: number; ms: number }>(out, "fetch_loop");
  const loopRate = sent / (ms / 1000);
  stub.seen.length = 0;
  return { relayRate, loopRate, ratio: relayRate / loopRate };
}

async function scrape(round: number, dir: string) {
  const template = await distinctTemplate();
  const emptyStart = performance.now();
  await (await relay(`${dir}/empty`, undefined)).kill("SIGTERM");
  const emptyStartMs = performance.now() - emptyStart;
  let server = await relay(dir, undefined);
  try {
    await (await admin(server.url, "/pause", "POST")).body?.cancel();
    await fill(server.url, template, opts.queued, `q${round}`);
    await server.kill("SIGTERM");
    const t0 = performance.now();
    server = await relay(dir, undefined, {}, true);
    const backlogStartMs = performance.now() - t0;
    const metricsMs = await timeIt(7, () => fetch(`${server.url}/metrics`));
    const filteredMs = await timeIt(
      7,
      () => admin(server.url, "/messages?state=sent&destination=platformx&limit=50"),
    );
    const firstPageMs = await timeIt(7, () => admin(server.url, "/messages?limit=50"));
    return { metricsMs, filteredMs, firstPageMs, emptyStartMs, backlogStartMs };
  } finally {
    await server.kill("SIGTERM");
  }
}

if (import.meta.main) {
  const load = new TextDecoder().decode(
    (await new Deno.Command("uptime", { stdout: "piped" }).output()).stdout,
  ).trim();
  console.error(`load before: ${load}`);
  await using stub = startStub();
  const storms = [];
  const drains = [];
  const scrapes = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const dir = await Deno.makeTempDir({ prefix: "coder-relay-bench-delivery-" });
    try {
      if (opts.phases.includes("storm")) {
        storms.push(await storm(round, dir, stub));
        console.error(`round ${round} storm`, storms.at(-1));
      }
      if (opts.phases.includes("drain")) {
        drains.push(await drain(round, `${dir}/drain`, stub));
        console.error(`round ${round} drain`, drains.at(-1));
      }
      if (opts.phases.includes("scrape")) {
        scrapes.push(await scrape(round, `${dir}/scrape`));
        console.error(`round ${round} scrape`, scrapes.at(-1));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  const m = <T>(xs: T[], f: (x: T) => number) => median(xs.map(f)).toFixed(2);
  const after = new TextDecoder().decode(
    (await new Deno.Command("uptime", { stdout: "piped" }).output()).stdout,
  ).trim();
  console.log(
    `\nDelivery (issue 14): store ${opts.store}, median of ${opts.rounds} rounds, ` +
      `${opts.connections} connections, ${opts.seconds} s per load, Deno ${Deno.version.deno}` +
      `\nload before: ${load}\nload after:  ${after}\n`,
  );
  console.log("| what | relay | reference | ratio |\n| --- | ---: | ---: | ---: |");
  if (drains.length) {
    console.log(
      `| drain a paused backlog of ${opts.backlog} | ${m(drains, (d) => d.relayRate)}/s | ` +
        `bare fetch loop, ${opts.concurrency} in flight: ${m(drains, (d) => d.loopRate)}/s | ` +
        `${m(drains, (d) => d.ratio)}× |`,
    );
  }
  if (storms.length) {
    console.log(
      `| accept, fan-out copies of one event | ${m(storms, (s) => s.stormRps)}/s | ` +
        `distinct events: ${m(storms, (s) => s.distinctRps)}/s | ${
          m(storms, (s) => s.stormRatio)
        }× |`,
    );
    console.log(
      `| accept p99, distinct events | ${m(storms, (s) => s.distinctP99)} ms | ` +
        `reference ${m(storms, (s) => s.referenceP99)} ms (${
          m(storms, (s) => s.referenceRps)
        }/s) | ` +
        `${m(storms, (s) => s.p99Ratio)}× |`,
    );
  }
  if (scrapes.length) {
    console.log(
      `| /metrics, ${opts.queued} queued | ${m(scrapes, (s) => s.metricsMs)} ms | target 20 ms | |`,
    );
    console.log(
      `| /api/v1/messages filtered page, ${opts.queued} queued | ${
        m(scrapes, (s) => s.filteredMs)
      } ms | first page ${m(scrapes, (s) => s.firstPageMs)} ms | |`,
    );
    console.log(
      `| start-up to ready, ${opts.queued} queued | ${m(scrapes, (s) => s.backlogStartMs)} ms | ` +
        `empty store ${m(scrapes, (s) => s.emptyStartMs)} ms | ${
          m(scrapes, (s) => s.backlogStartMs / s.emptyStartMs)
        }× |`,
    );
  }
}
