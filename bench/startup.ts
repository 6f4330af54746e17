/**
 * Start-up and memory of the relay as users run it (`deno run main.ts`), against a same-run
 * reference: a bare `Deno.serve` hello script started the same way. Ready time is from spawn to the
 * first 200 on `/readyz` (the same harness for both: `startRelayProcess`); memory is the resident
 * set (`VmRSS` in /proc/<pid>/status) after 10,000 accepted webhooks delivered to the PlatformX dry
 * run, on a real KV file. Targets: < 150 ms to ready, < 80 MB RSS. Measured twice: with the V8
 * flags of `deno task start` (a smaller young generation and slower heap growth, also compiled
 * into the binaries) and with V8's defaults, to show what the flags buy.
 *
 * `deno task bench:startup [runs=5] [messages=10000]` (`--allow-all`: reading /proc needs it)
 *
 * @module
 */
import { START_V8_FLAGS } from "./task_flags.ts";
import {
  golden,
  type RelayProcess,
  sleep,
  startRelayProcess,
  workspaceData,
} from "../tests/helpers/stubs.ts";

const runs = Number(Deno.args[0] ?? 5);
const messages = Number(Deno.args[1] ?? 10_000);
const CONCURRENCY = 16;

const dir = await Deno.makeTempDir({ prefix: "coder-relay-startup-" });
const hello = `${dir}/hello.ts`;
await Deno.writeTextFile(
  hello,
  `Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.env.get("PORT")), onListen() {} },
    () => new Response("ok"));\n`,
);

/** Resident set, its peak (`VmHWM`) and its anonymous part (without the mapped executable), in MB. */
interface Memory {
  rss: number;
  peak: number;
  anon: number;
}

/** The memory of a live process. */
async function memory(pid: number): Promise<Memory> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (field: string) =>
    Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))![1]);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024, anon: kb("RssAnon") / 1024 };
}

/** Milliseconds from spawn to ready, and the running process. */
async function timed(start: () => Promise<RelayProcess>): Promise<[number, RelayProcess]> {
  const t0 = performance.now();
  const proc = await start();
  return [performance.now() - t0, proc];
}

const PROFILES: { name: string; env: Record<string, string> }[] = [
  {
    name: "coder-relay (`deno task start`)",
    env: START_V8_FLAGS ? { DENO_V8_FLAGS: START_V8_FLAGS } : {},
  },
  { name: "coder-relay, V8 defaults", env: {} },
];

interface Result {
  name: string;
  readyMs: number;
  ready: Memory;
  loaded: Memory;
  settled: Memory;
  postSeconds: number;
}

const startHello = () => startRelayProcess({}, [hello]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Ready time (median of `runs`, after one warm-up) and memory idle, loaded and settled. */
async function measure(profile: typeof PROFILES[number]): Promise<Result> {
  const start = (store: string) => startRelayProcess({ RELAY_STORE: store, ...profile.env });
  const times: number[] = [];
  let ready: Memory = { rss: 0, peak: 0, anon: 0 };
  for (let i = -1; i < runs; i++) {
    const [ms, proc] = await timed(() => start(`${dir}/ready-${i}.kv`));
    ready = await memory(proc.child.pid);
    await proc.kill("SIGTERM");
    if (i >= 0) times.push(ms);
  }
  // 10k distinct workspace events on a real KV file, delivered to the PlatformX dry run.
  const relay = await start(`${dir}/load-${PROFILES.indexOf(profile)}.kv`);
  const base = await golden("TemplateWorkspaceCreated.json");
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < messages) {
      const i = next++;
      const body = {
        ...base,
        msg_id: crypto.randomUUID(),
        payload: {
          ...base.payload,
          labels: { ...base.payload.labels, workspace: `ws-${i}` },
          data: workspaceData(`user${i}@example.com`),
        },
      };
      const res = await fetch(`${relay.url}/`, { method: "POST", body: JSON.stringify(body) });
      await res.body?.cancel();
      if (res.status !== 202) throw new Error(`message ${i}: HTTP ${res.status}`);
    }
  }));
  const postSeconds = (performance.now() - t0) / 1000;
  const loaded = await memory(relay.child.pid);
  await sleep(3000); // the delivery loop drains to the dry run; the heap settles
  const settled = await memory(relay.child.pid);
  const status = await relay.kill("SIGTERM");
  if (status.code !== 0) throw new Error(`relay exited with ${status.code}:\n${relay.output()}`);
  return { name: profile.name, readyMs: median(times), ready, loaded, settled, postSeconds };
}

try {
  const helloTimes: number[] = [];
  let helloMem: Memory = { rss: 0, peak: 0, anon: 0 };
  for (let i = -1; i < runs; i++) {
    const [ms, proc] = await timed(startHello);
    helloMem = await memory(proc.child.pid);
    await proc.kill("SIGTERM");
    if (i >= 0) helloTimes.push(ms);
  }
  const ref = median(helloTimes);
  const results = [];
  for (const profile of PROFILES) results.push(await measure(profile));

  const cell = (n: number, base: number) => `${n.toFixed(1)} (${(n / base).toFixed(2)}×)`;
  const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
  console.log(
    `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs; ready time is the median of
${runs} starts; × is the ratio to the reference, a bare Deno.serve hello script started the same way
(${ref.toFixed(1)} ms to ready, ${helloMem.rss.toFixed(1)} MB RSS).
`,
  );
  console.log(row([
    "",
    "spawn → /readyz 200 (ms)",
    "RSS ready (MB)",
    `RSS after ${messages} messages (MB)`,
    "RSS 3 s later (MB)",
    "peak RSS (MB)",
    "anonymous (MB)",
    "accept time",
  ]));
  console.log(row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]));
  for (const r of results) {
    console.log(row([
      r.name,
      cell(r.readyMs, ref),
      cell(r.ready.rss, helloMem.rss),
      cell(r.loaded.rss, helloMem.rss),
      cell(r.settled.rss, helloMem.rss),
      cell(r.settled.peak, helloMem.peak),
      cell(r.settled.anon, helloMem.anon),
      `${r.postSeconds.toFixed(1)} s`,
    ]));
  }
  const main = results[0];
  console.log(
    `\nTargets (\`deno task start\`): ready < 150 ms ${main.readyMs < 150 ? "met" : "MISSED"}; ` +
      `RSS after ${messages} messages < 80 MB ${
        Math.max(main.loaded.rss, main.settled.rss) < 80 ? "met" : "MISSED"
      }. ${CONCURRENCY} concurrent clients post the messages.`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
