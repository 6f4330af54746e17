/**
 * Slow clients against a normal one (issue 12 item 4): the p99 latency of a client posting
 * webhooks one at a time, first with the relay idle, then with `slow` loopback connections held
 * open trickling a partial request (one header byte every few seconds: slowloris). Target: under
 * slowloris the p99 stays below 2× its idle value. Loopback only.
 *
 * `deno run -A bench/slowloris.ts [slow=1500] [requests=400]`
 *
 * @module
 */
import { golden, sleep, startRelayProcess } from "../tests/helpers/stubs.ts";

const slowCount = Number(Deno.args[0] ?? 1500);
const requests = Number(Deno.args[1] ?? 400);

await using relay = await startRelayProcess({ RELAY_STORE: ":memory:", EVENTS_TRACKED: "*" });
const port = Number(new URL(relay.url).port);
const base = await golden("TemplateWorkspaceCreated.json");

async function p99(label: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const body = JSON.stringify({ ...base, msg_id: crypto.randomUUID() });
    const t = performance.now();
    const res = await fetch(`${relay.url}/`, { method: "POST", body });
    await res.body?.cancel();
    times.push(performance.now() - t);
    if (res.status !== 202) throw new Error(`${label}: status ${res.status}`);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  console.log(
    `${label}: p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms, max ${
      at(1).toFixed(2)
    } ms`,
  );
  return at(0.99);
}

await p99("warm-up");
const idle = await p99("idle");
const conns: Deno.Conn[] = [];
const enc = new TextEncoder();
for (let i = 0; i < slowCount; i++) {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  await c.write(enc.encode("POST / HTTP/1.1\r\nhost: x\r\n"));
  conns.push(c);
}
let trickling = true;
const trickle = (async () => {
  while (trickling) {
    for (const c of conns) await c.write(enc.encode("x")).catch(() => {});
    await sleep(2000);
  }
})();
await sleep(500);
const slow = await p99(`with ${conns.length} slow connections`);
trickling = false;
await trickle;
for (const c of conns) c.close();
console.log(`ratio p99 slow/idle: ${(slow / idle).toFixed(2)} (target < 2)`);
