/**
 * The relay as users run it: a real `deno run main.ts` process on a real KV file, killed with
 * SIGKILL at awkward moments, restarted on the same file.
 */
import assert from "node:assert/strict";
import { openKvStore } from "../src/store/kv.ts";
import { runMain } from "./helpers/cli.ts";
import { withTempDir } from "./helpers/relay_process.ts";
import {
  freePort,
  golden,
  sleep,
  startRelayProcess,
  startStub,
  userData,
  waitFor,
  workspaceData,
} from "./helpers/stubs.ts";

async function tempStore(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "coder-relay-e2e-" });
  return {
    path: `${dir}/relay.kv`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

function env(store: string, platformx: string, extra: Record<string, string> = {}) {
  return {
    RELAY_STORE: store,
    GETDX_API_KEY: "k",
    GETDX_API_URL: platformx,
    RELAY_RETRY_MIN_MS: "50",
    RELAY_RETRY_MAX_MS: "200",
    RELAY_POLL_MS: "50",
    ...extra,
  };
}

async function post(url: string, body: unknown): Promise<number> {
  const res = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  await res.body?.cancel();
  return res.status;
}

async function deliveryOf(path: string, msgId: string) {
  const store = await openKvStore(path);
  try {
    return (await store.getMessage(msgId))?.deliveries[0];
  } finally {
    await store.close();
  }
}

Deno.test("SIGKILL before delivery, restart on the same file: delivered exactly once", async () => {
  await using store = await tempStore();
  const port = freePort(); // nothing listens yet: PlatformX is down
  const platformx = `http://127.0.0.1:${port}`;
  const msg = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  // After a refused attempt the next one is 1.5–3 s away, so the kill lands between attempts, not
  // in one (a kill mid-attempt is the `unknown` case below).
  const settings = env(store.path, platformx, {
    RELAY_RETRY_MIN_MS: "3000",
    RELAY_RETRY_MAX_MS: "3000",
  });
  {
    await using relay = await startRelayProcess(settings);
    assert.equal(await post(relay.url, msg), 202);
    await waitFor(
      () => relay.output().includes("temporary_failure, retry 1"),
      5000,
      "the first refused attempt to be recorded",
    );
    const status = await relay.kill("SIGKILL");
    assert.equal(status.signal, "SIGKILL");
  }
  const d = await deliveryOf(store.path, msg.msg_id);
  assert.equal(d?.state, "temporary_failure", "killed between attempts, not delivered");
  await using px = startStub(undefined, port);
  await using relay = await startRelayProcess(settings);
  await waitFor(() => px.seen.length === 1, 10_000, "delivery after restart");
  await sleep(300);
  await relay.kill("SIGTERM");
  assert.equal(px.seen.length, 1);
  assert.equal(JSON.parse(px.seen[0].body).email, "owner@example.com");
  assert.equal((await deliveryOf(store.path, msg.msg_id))?.state, "sent");
});

Deno.test("SIGKILL mid-send: after restart the delivery is `unknown`, never sent twice", async () => {
  await using store = await tempStore();
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  await using px = startStub(async () => {
    await held;
    return Response.json({ ok: true });
  });
  const msg = await golden("TemplateUserAccountCreated.json", { data: userData() });
  const settings = env(store.path, px.url, {
    RELAY_LEASE_MS: "1500",
    RELAY_SEND_TIMEOUT_MS: "1000",
  });
  {
    await using relay = await startRelayProcess(settings);
    assert.equal(await post(relay.url, msg), 202);
    await waitFor(() => px.seen.length === 1, 5000, "the send to start");
    await relay.kill("SIGKILL");
  }
  release();
  await using relay = await startRelayProcess(settings);
  await waitFor(() => relay.output().includes("unknown"), 10_000, "the expired lease to settle");
  await relay.kill("SIGTERM");
  const settled = await deliveryOf(store.path, msg.msg_id);
  assert.equal(settled?.state, "unknown");
  assert.match(settled?.statusReason ?? "", /interrupted mid-send/);
  assert.equal(px.seen.length, 1, "PlatformX saw the event once");
});

Deno.test("SIGKILL during a burst of accepts: every acknowledged message survives", async () => {
  await using store = await tempStore();
  const port = freePort(); // PlatformX down: everything stays queued
  const acked: string[] = [];
  {
    await using relay = await startRelayProcess(env(store.path, `http://127.0.0.1:${port}`));
    const sends = Array.from({ length: 60 }, async (_, i) => {
      await sleep(i * 3);
      const msg = await golden("TemplateUserAccountSuspended.json", {
        data: userData(`burst${i}@example.com`),
      });
      try {
        if (await post(relay.url, msg) === 202) acked.push(msg.msg_id);
      } catch { /* the process died mid-request: not acknowledged */ }
    });
    await waitFor(() => acked.length >= 20, 10_000, "some acknowledgements");
    await relay.kill("SIGKILL");
    await Promise.all(sends);
  }
  assert.ok(acked.length >= 20);
  const kv = await openKvStore(store.path);
  try {
    for (const id of acked) {
      const m = await kv.getMessage(id);
      assert.ok(m, `acknowledged ${id} is in the store`);
      assert.equal(m.deliveries.length, 1);
      assert.ok(await kv.getBody(id));
    }
  } finally {
    await kv.close();
  }
});

Deno.test("SIGTERM: stops accepting, lets the in-flight send finish, exits cleanly", async () => {
  await using store = await tempStore();
  await using px = startStub(async () => {
    await sleep(700);
    return Response.json({ ok: true });
  });
  const msg = await golden("TemplateWorkspaceManuallyUpdated.json", { data: workspaceData() });
  await using relay = await startRelayProcess(env(store.path, px.url));
  assert.equal(await post(relay.url, msg), 202);
  await waitFor(() => px.seen.length === 1, 5000, "the send to start");
  const status = await relay.kill("SIGTERM");
  assert.equal(status.code, 0, relay.output());
  assert.match(relay.output(), /shutting down/);
  assert.equal((await deliveryOf(store.path, msg.msg_id))?.state, "sent");
});

Deno.test("a wrong setting stops start-up with a message naming the variable", async () => {
  const out = await withTempDir((dir) =>
    runMain([], { RELAY_MAX_ATTEMPTS: "many", RELAY_STORE: ":memory:" }, dir)
  );
  assert.equal(out.code, 78);
  assert.match(out.stderr, /RELAY_MAX_ATTEMPTS: expected a whole number/);
});
