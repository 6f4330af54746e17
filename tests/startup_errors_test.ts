/** Issue 10 / issue 12 item 8: expected start-up failures are one line, exit 78, no password. */
import assert from "node:assert/strict";
import { runMain } from "./helpers/cli.ts";
import { freePort } from "./helpers/stubs.ts";

async function inTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const noStack = (text: string) => !/^\s+at /m.test(text) && !/Uncaught/.test(text);

Deno.test("process: a Postgres URL with a raw # and @ in its password: exit 78 naming RELAY_STORE, serve and check-config", async () => {
  await inTemp(async (dir) => {
    const env = {
      RELAY_STORE: `postgres://relay:p#ss@w0rd@127.0.0.1:${freePort()}/relay`,
      PORT: String(freePort()),
      HOST: "127.0.0.1",
    };
    for (const args of [["serve"], ["check-config"]]) {
      const run = await runMain(args, env, dir);
      const out = run.stdout + run.stderr;
      assert.equal(run.code, 78, `${args}: ${out}`);
      assert.match(out, /RELAY_STORE/);
      assert.ok(!out.includes("p#ss") && !out.includes("w0rd"), out);
      assert.ok(noStack(out), out);
    }
  });
});

Deno.test("process: an unreachable Postgres store: one line naming RELAY_STORE, password redacted, exit 78", async () => {
  await inTemp(async (dir) => {
    const run = await runMain(["serve"], {
      RELAY_STORE:
        `postgres://relay:hunter2@127.0.0.1:${freePort()}/relay?sslmode=disable&password=hunter3`,
      PORT: String(freePort()),
      HOST: "127.0.0.1",
    }, dir);
    const out = run.stdout + run.stderr;
    assert.equal(run.code, 78, out);
    assert.match(out, /RELAY_STORE/);
    assert.ok(!out.includes("hunter2") && !out.includes("hunter3"), out);
    assert.ok(noStack(out), out);
  });
});

Deno.test("process: port in use: one line naming HOST and PORT, no stack trace", async () => {
  await inTemp(async (dir) => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const run = await runMain(["serve"], {
      RELAY_STORE: ":memory:",
      PORT: String(listener.addr.port),
      HOST: "127.0.0.1",
    }, dir);
    const out = run.stdout + run.stderr;
    assert.equal(run.code, 78, out);
    assert.match(out, /cannot listen on 127\.0\.0\.1:\d+ \(HOST, PORT\): address already in use/);
    assert.ok(noStack(out), out);
  });
});
