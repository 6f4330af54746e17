/** Issue 12 item 10: with PostgreSQL unreachable, requests get a fast 503 once one has failed. */
import assert from "node:assert/strict";
import { createTestSchema, TEST_POSTGRES_URL } from "./helpers/postgres.ts";
import { golden, startRelayProcess } from "./helpers/stubs.ts";

/** A loopback TCP proxy to the database that can turn into a black hole (accepts, never answers). */
function startProxy(target: { hostname: string; port: number }) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let blackhole = false;
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable);
    } catch { /* either side closed */ }
  };
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      if (blackhole) continue;
      try {
        const upstream = await Deno.connect(target);
        conns.add(upstream);
        pipe(conn, upstream);
        pipe(upstream, conn);
      } catch {
        conn.close();
      }
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    blackhole() {
      blackhole = true;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      conns.clear();
    },
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await loop;
    },
  };
}

Deno.test({
  name: "process: PostgreSQL unreachable: after the first 503 the next ones are fast",
  ignore: !TEST_POSTGRES_URL,
  sanitizeResources: false, // piped streams of the killed proxy connections settle late
  sanitizeOps: false,
  fn: async () => {
    const base = new URL(TEST_POSTGRES_URL!);
    await using schema = await createTestSchema(TEST_POSTGRES_URL!);
    const proxy = startProxy({ hostname: base.hostname, port: Number(base.port || 5432) });
    try {
      const url = new URL(schema.url);
      url.host = `127.0.0.1:${proxy.port}`;
      await using relay = await startRelayProcess({ RELAY_STORE: url.href, EVENTS_TRACKED: "*" });
      const post = async () => {
        const msg = await golden("TemplateWorkspaceCreated.json");
        const t = performance.now();
        const res = await fetch(`${relay.url}/`, { method: "POST", body: JSON.stringify(msg) });
        await res.body?.cancel();
        return { status: res.status, ms: performance.now() - t };
      };
      assert.equal((await post()).status, 202);
      proxy.blackhole();
      const first = await post();
      assert.equal(first.status, 503);
      const next = [];
      for (let i = 0; i < 4; i++) next.push(await post());
      for (const r of next) assert.equal(r.status, 503);
      const fast = next.filter((r) => r.ms < 500).length;
      assert.ok(fast >= 3, `fast 503s: ${next.map((r) => r.ms.toFixed(0)).join(", ")} ms`);
      await relay.kill("SIGKILL");
    } finally {
      await proxy.close();
    }
  },
});
