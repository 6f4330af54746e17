/**
 * `deno task bench`: how fast the relay accepts webhooks, against a same-run reference.
 *
 * Phases, each on a fresh KV file on disk, each server a real subprocess, load from a separate
 * process (`wrk` with `bench/post.lua` when installed, else `bench/load.ts`) over loopback:
 * - `reference`: `bench/reference.ts`, a bare `Deno.serve` + `JSON.parse` + one `kv.set` per request;
 * - the relay (`main.ts serve`) with a stub PlatformX that answers at once, in 100 ms, or is down.
 *
 * Every request is a new message (unique `msg_id`) about a new subject (unique owner), so each one
 * takes the whole accept path. Phases run interleaved for several rounds; medians are reported,
 * because the machine is shared. Afterwards each store is opened and counted, so a phase that
 * "accepted" what it did not store fails the run.
 *
 * Usage: `deno task bench [--rounds=3] [--seconds=5] [--connections=64] [--load=wrk|deno]
 * [--log-level=WARNING] [--json]`. The relay logs at WARNING by default, so that the figures are
 * about accepting; `--log-level=INFO` measures it with its one line per message.
 *
 * @module
 */
import { option, START_V8_FLAGS } from "./task_flags.ts";
import {
  freePort,
  golden,
  sleep,
  startRelayProcess,
  startStub,
  type Stub,
  workspaceData,
} from "../tests/helpers/stubs.ts";
import { denoCommand, withTempDir } from "../tests/helpers/relay_process.ts";
import { benchResult, wrkCommand } from "./wrk.ts";

/** What one load run measured (`BENCH_RESULT` of post.lua or load.ts). */
interface LoadResult {
  readonly requests: number;
  readonly durationUs: number;
  readonly connectErrors: number;
  readonly readErrors: number;
  readonly writeErrors: number;
  readonly statusErrors: number;
  readonly timeouts: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

/** One phase of one round. */
interface PhaseResult {
  readonly phase: Phase;
  readonly round: number;
  /** Answered 2xx per second. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly accepted: number;
  readonly errors: number;
  /** Messages found in the store afterwards (warm-up included). */
  readonly stored: number;
  /** Events the stub PlatformX received during the phase. */
  readonly delivered?: number;
  /** Delivery attempts the relay recorded (what the worker spent on the store besides accepts). */
  readonly attempts?: number;
  /** Resident memory of the server process right after the load, in KiB. */
  readonly rssKiB?: number;
}

type Phase = "reference" | "relay, stub fast" | "relay, stub 100 ms" | "relay, stub down";
const PHASES: readonly Phase[] = [
  "reference",
  "relay, stub fast",
  "relay, stub 100 ms",
  "relay, stub down",
];

const ROOT = new URL("../", import.meta.url).pathname;
const WARMUP_SECONDS = 1;

const opts = {
  rounds: Number(option("rounds", "3")),
  seconds: Number(option("seconds", "5")),
  connections: Number(option("connections", "64")),
  load: option("load", await hasWrk() ? "wrk" : "deno") as "wrk" | "deno",
  logLevel: option("log-level", "WARNING"),
  json: Deno.args.includes("--json"),
};

async function hasWrk(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("wrk", { args: ["--version"], stdout: "null" })
      .output();
    return success || true; // wrk --version exits 1 after printing its version
  } catch {
    return false;
  }
}

/** A Workspace Created body in which `__ID__` marks what must differ per request. */
async function template(): Promise<string> {
  const data = workspaceData("u-__ID__@example.com");
  const env = await golden("TemplateWorkspaceCreated.json", {
    data: { ...data, owner: { ...data.owner, id: "__ID__", name: "user-__ID__" } },
  }, "__ID__");
  return JSON.stringify(env);
}

async function runLoad(url: string, seconds: number, templatePath: string, tag: string) {
  const cmd = opts.load === "wrk"
    ? wrkCommand(url, { connections: opts.connections, seconds, templatePath, tag })
    : undefined;
  const out = cmd ? await cmd.output() : await withTempDir((cwd) =>
    denoCommand("run", [
      "--allow-net",
      "--allow-read",
      `${ROOT}bench/load.ts`,
      url,
      String(opts.connections),
      String(seconds),
      templatePath,
      tag,
    ], { cwd }).output()
  );
  return benchResult<LoadResult>(out, "load generator");
}

/** Resident memory of a process in KiB (`ps`: reading /proc would need --allow-all). */
async function rssKiB(pid: number): Promise<number | undefined> {
  try {
    const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
    const kib = Number(new TextDecoder().decode(out.stdout).trim());
    return out.success && kib > 0 ? kib : undefined;
  } catch {
    return undefined;
  }
}

/** Counts messages, and for the relay delivery states, in a KV file the server has closed. */
async function countStore(
  path: string,
): Promise<{ messages: number; attempts: number; states: Map<string, number> }> {
  const kv = await Deno.openKv(path);
  try {
    let messages = 0;
    for await (const _ of kv.list({ prefix: ["m"] })) messages++;
    let attempts = 0;
    const states = new Map<string, number>();
    for await (const e of kv.list<{ state: string; attempts: number }>({ prefix: ["d"] })) {
      states.set(e.value.state, (states.get(e.value.state) ?? 0) + 1);
      attempts += e.value.attempts;
    }
    return { messages, attempts, states };
  } finally {
    kv.close();
  }
}

async function runPhase(
  phase: Phase,
  round: number,
  stubs: { fast: Stub; slow: Stub },
  templatePath: string,
): Promise<PhaseResult> {
  const dir = await Deno.makeTempDir({ prefix: "coder-relay-bench-" });
  const store = `${dir}/store.kv`;
  const stub = phase === "relay, stub fast"
    ? stubs.fast
    : phase === "relay, stub 100 ms"
    ? stubs.slow
    : undefined;
  const seenBefore = stub?.seen.length ?? 0;
  const server = await startRelayProcess(
    {
      RELAY_STORE: store,
      LOG_LEVEL: opts.logLevel,
      GETDX_API_KEY: "bench",
      GETDX_API_URL: stub?.url ?? `http://127.0.0.1:${freePort()}`,
      // The relay as `deno task start` runs it; the reference keeps Deno's defaults.
      ...(phase !== "reference" && START_V8_FLAGS ? { DENO_V8_FLAGS: START_V8_FLAGS } : {}),
    },
    phase === "reference" ? ["bench/reference.ts"] : ["main.ts"],
  );
  let load: LoadResult;
  let rss: number | undefined;
  try {
    const tag = `r${round}-${PHASES.indexOf(phase)}`;
    const warm = await runLoad(`${server.url}/`, WARMUP_SECONDS, templatePath, `${tag}-warm`);
    load = await runLoad(`${server.url}/`, opts.seconds, templatePath, tag);
    load = { ...load, requests: load.requests, warm: warm.requests - warm.statusErrors } as
      & LoadResult
      & { warm: number };
    rss = await rssKiB(server.child.pid);
  } finally {
    const status = await server.kill("SIGTERM");
    if (!status.success) {
      console.error(`${phase}: server exited with ${status.code}\n${server.output()}`);
    }
  }
  const delivered = stub ? stub.seen.length - seenBefore : undefined;
  const { messages, attempts, states } = await countStore(store);
  await Deno.remove(dir, { recursive: true });
  const errors = load.statusErrors + load.connectErrors + load.readErrors + load.writeErrors +
    load.timeouts;
  const accepted = load.requests - load.statusErrors;
  const warm = (load as LoadResult & { warm: number }).warm;
  // Requests cut off when the load stops may have been stored without being counted.
  const slack = 2 * opts.connections;
  if (messages < accepted + warm || messages > accepted + warm + slack) {
    throw new Error(
      `${phase}: ${accepted + warm} requests answered 2xx but the store holds ${messages} messages`,
    );
  }
  if (states.has("deduplicated")) {
    throw new Error(`${phase}: ${states.get("deduplicated")} deliveries deduplicated: ids collide`);
  }
  return {
    phase,
    round,
    rps: accepted / (load.durationUs / 1e6),
    p50Ms: load.p50Us / 1000,
    p99Ms: load.p99Us / 1000,
    accepted,
    errors,
    stored: messages,
    delivered,
    attempts: phase === "reference" ? undefined : attempts,
    rssKiB: rss,
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "coder-relay-bench-" });
  const templatePath = `${dir}/body.json`;
  await Deno.writeTextFile(templatePath, await template());
  await using fast = startStub();
  await using slow = startStub(async () => {
    await sleep(100);
    return Response.json({ ok: true });
  });
  const results: PhaseResult[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const phase of PHASES) {
      const r = await runPhase(phase, round, { fast, slow }, templatePath);
      results.push(r);
      if (!opts.json) {
        console.error(
          `round ${round} ${phase.padEnd(20)} ${r.rps.toFixed(0).padStart(6)} req/s  ` +
            `p50 ${r.p50Ms.toFixed(1)} ms  p99 ${r.p99Ms.toFixed(1)} ms  errors ${r.errors}`,
        );
      }
    }
  }
  await Deno.remove(dir, { recursive: true });

  // Ratios are taken within a round (same minute, same machine load), then the median.
  const summary = PHASES.map((phase) => {
    const rs = results.filter((r) => r.phase === phase);
    const ratios = rs.map((r) =>
      r.rps / results.find((x) => x.round === r.round && x.phase === "reference")!.rps
    );
    const rss = rs.flatMap((r) => r.rssKiB === undefined ? [] : [r.rssKiB]);
    return {
      phase,
      rps: median(rs.map((r) => r.rps)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      ratio: median(ratios),
      errors: rs.reduce((n, r) => n + r.errors, 0),
      delivered: rs[0].delivered === undefined ? undefined : median(rs.map((r) => r.delivered!)),
      attempts: rs[0].attempts === undefined ? undefined : median(rs.map((r) => r.attempts!)),
      rssMiB: rss.length ? Math.max(...rss) / 1024 : undefined,
    };
  });
  const meta = {
    load: opts.load,
    connections: opts.connections,
    seconds: opts.seconds,
    rounds: opts.rounds,
    logLevel: opts.logLevel,
    deno: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
  };
  if (opts.json) {
    console.log(JSON.stringify({ ...meta, summary, results }, null, 2));
  } else {
    console.log(
      `\nAccepting webhooks: ${opts.connections} connections, ${opts.seconds} s per phase, ` +
        `median of ${opts.rounds} rounds, load by ${opts.load}, relay LOG_LEVEL=${opts.logLevel}, ` +
        `Deno ${meta.deno}, ${meta.cpus} CPUs\n`,
    );
    console.log(
      "phase                  ratio    req/s   p50 ms   p99 ms  errors  delivered  attempts  max RSS",
    );
    for (const s of summary) {
      console.log(
        `${s.phase.padEnd(20)} ${s.ratio.toFixed(2).padStart(7)} ${s.rps.toFixed(0).padStart(8)} ` +
          `${s.p50Ms.toFixed(1).padStart(8)} ${s.p99Ms.toFixed(1).padStart(8)} ` +
          `${String(s.errors).padStart(7)} ${String(s.delivered ?? "").padStart(10)} ` +
          `${String(s.attempts ?? "").padStart(9)} ` +
          `${s.rssMiB === undefined ? "" : `${s.rssMiB.toFixed(0)} MiB`.padStart(8)}`,
      );
    }
  }
}
