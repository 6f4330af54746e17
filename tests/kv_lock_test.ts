/** Issue 12 item 9: one relay per KV file, checked with real processes and SIGKILL. */
import assert from "node:assert/strict";
import { runMain } from "./helpers/cli.ts";
import { freePort, golden, startRelayProcess, startStub, waitFor } from "./helpers/stubs.ts";
import { lockKvFile, needsKvLock, StoreLockedError } from "../src/store/kv_lock.ts";

Deno.test("process: a second relay on the same KV file refuses to start (exit 78); after SIGKILL the next one starts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const env = { RELAY_STORE: `${dir}/data/relay.kv` };
    {
      await using first = await startRelayProcess(env);
      const second = await runMain(["serve"], {
        ...env,
        HOST: "127.0.0.1",
        PORT: String(freePort()),
      }, dir);
      const out = second.stdout + second.stderr;
      assert.equal(second.code, 78, out);
      assert.match(out, /RELAY_STORE: .*relay\.kv is in use by another relay process/);
      assert.ok(!/^\s+at /m.test(out), out);
      const res = await fetch(`${first.url}/readyz`);
      assert.equal(res.status, 200, "the first one is unaffected");
      await res.body?.cancel();
      assert.equal((await first.kill("SIGKILL")).signal, "SIGKILL");
    }
    await using next = await startRelayProcess(env);
    const res = await fetch(`${next.url}/readyz`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockKvFile: exclusive within reach, released on release()", async () => {
  assert.equal(needsKvLock(":memory:"), false);
  assert.equal(needsKvLock("postgres://db/x"), false);
  assert.equal(needsKvLock("./data/relay.kv"), true);
  const dir = await Deno.makeTempDir();
  try {
    const lock = await lockKvFile(`${dir}/relay.kv`);
    if (!("tryLock" in Deno.FsFile.prototype)) {
      // Before Deno 2.7 a refused lock stays requested until the process exits, which an
      // in-process test cannot do: the process test above covers those Denos.
      lock.release();
      return;
    }
    await assert.rejects(lockKvFile(`${dir}/relay.kv`), StoreLockedError);
    lock.release();
    (await lockKvFile(`${dir}/relay.kv`))?.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("process: a lease left by a SIGKILLed relay is settled at the next start, not after RELAY_LEASE_MS", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  await using hook = startStub(async () => {
    if (hook.seen.length === 1) await held; // the first attempt hangs mid-send
    return new Response("ok");
  });
  const dir = await Deno.makeTempDir();
  try {
    const env = {
      RELAY_STORE: `${dir}/relay.kv`,
      WEBHOOK_URL: hook.url,
      WEBHOOK_EVENTS_TRACKED: "*",
      RELAY_LEASE_MS: "60000",
      RELAY_SEND_TIMEOUT_MS: "30000",
      RELAY_POLL_MS: "50",
    };
    {
      await using first = await startRelayProcess(env);
      const msg = await golden("TemplateWorkspaceCreated.json");
      const res = await fetch(`${first.url}/`, { method: "POST", body: JSON.stringify(msg) });
      assert.equal(res.status, 202);
      await res.body?.cancel();
      await waitFor(() => hook.seen.length === 1, 10_000, "the first attempt");
      await first.kill("SIGKILL");
    }
    const started = Date.now();
    await using next = await startRelayProcess(env);
    await waitFor(() => hook.seen.length === 2, 15_000, "the resend after the restart");
    assert.ok(Date.now() - started < 15_000, "well before the 60 s lease ran out");
    await next.kill("SIGTERM");
  } finally {
    release();
    await Deno.remove(dir, { recursive: true });
  }
});
