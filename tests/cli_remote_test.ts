import assert from "node:assert/strict";
import { ADMIN_TOKEN, adminCall } from "./helpers/admin.ts";
import { type Run, runMain } from "./helpers/cli.ts";
import {
  freePort,
  golden,
  startRelayProcess,
  startStub,
  waitFor,
  workspaceData,
} from "./helpers/stubs.ts";

/** Fast retries, a store file, the admin API on: a relay as an operator would reach it. */
function relayEnv(dir: string, platformxUrl: string): Record<string, string> {
  return {
    RELAY_STORE: `${dir}/relay.kv`,
    RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
    GETDX_API_KEY: "dx-key-remote-test",
    GETDX_API_URL: platformxUrl,
    RELAY_POLL_MS: "50",
    RELAY_RETRY_MIN_MS: "20",
    RELAY_RETRY_MAX_MS: "200",
    RELAY_SEND_TIMEOUT_MS: "2000",
    RELAY_LEASE_MS: "5000",
    // Subscriptions point at loopback stubs.
    RELAY_ALLOW_PRIVATE_DESTINATIONS: "127.0.0.1/32",
  };
}

async function failedDeliveries(url: string): Promise<string[]> {
  const res = await adminCall(url, "GET", "/api/v1/messages?state=permanent_failure");
  return res.json.messages.map((m: { msg_id: string }) => m.msg_id);
}

Deno.test("cli remote: the operator commands work on a running relay's admin API", async () => {
  let failing = true;
  let calls = 0;
  await using px = startStub(() => {
    calls++;
    if (failing) return new Response("bad event", { status: 400 });
    // Once fixed, the first attempt still meets a hiccup: --wait must follow it to the end.
    return calls === 1 ? new Response("busy", { status: 503 }) : Response.json({ ok: true });
  });
  const dir = await Deno.makeTempDir();
  const outputs: Run[] = [];
  const cli = async (args: string[], env: Record<string, string> = {}) => {
    const run = await runMain(args, env, dir);
    outputs.push(run);
    return run;
  };
  try {
    await using relay = await startRelayProcess(relayEnv(dir, px.url));
    const remote = ["--url", relay.url];
    const viaEnv = { RELAY_URL: relay.url, RELAY_ADMIN_TOKEN: ADMIN_TOKEN };
    const a = await golden("TemplateWorkspaceCreated.json", {
      data: workspaceData("a@example.com"),
    });
    const b = await golden("TemplateWorkspaceCreated.json", {
      data: workspaceData("b@example.com"),
    });
    for (const m of [a, b]) {
      const res = await fetch(`${relay.url}/`, { method: "POST", body: JSON.stringify(m) });
      assert.equal(res.status, 202);
      await res.body?.cancel();
    }
    await waitFor(async () => (await failedDeliveries(relay.url)).length === 2, 10_000, "failures");

    // Reads, with the token from the environment or the flag.
    const [list, show, wrongToken, noToken, withCredentials, unreachable] = await Promise.all([
      cli(["messages", "list", "--state", "permanent_failure", "--json"], viaEnv),
      cli(["messages", "show", a.msg_id, ...remote, "--token", ADMIN_TOKEN]),
      cli(["messages", "list", "--json", ...remote, "--token", "wrong-token-0123456789"]),
      cli(["pause", ...remote]),
      cli(["messages", "list", "--url", "http://ops:hunter2pass@127.0.0.1:9/"], viaEnv),
      cli(["messages", "list", "--json", "--url", `http://127.0.0.1:${freePort()}`], viaEnv),
    ]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      JSON.parse(list.stdout).messages.map((m: { msg_id: string }) => m.msg_id).toSorted(),
      [a.msg_id, b.msg_id].toSorted(),
    );
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /platformx: permanent_failure after 1 attempt\(s\)/);
    assert.equal(wrongToken.code, 1);
    assert.deepEqual(JSON.parse(wrongToken.stdout), {
      error: "forbidden",
      message: "wrong admin token (check --token or RELAY_ADMIN_TOKEN)",
    });
    assert.equal(noToken.code, 64);
    assert.match(noToken.stderr, /needs --token or RELAY_ADMIN_TOKEN/);
    assert.match(noToken.stderr, /Usage: main\.ts pause/);
    assert.equal(withCredentials.code, 64);
    assert.match(withCredentials.stderr, /must not carry credentials \(http:\/\/\*\*\*@127/);
    assert.ok(!withCredentials.stderr.includes("hunter2pass"), "URL credentials are redacted");
    assert.equal(unreachable.code, 1);
    assert.equal(JSON.parse(unreachable.stdout).error, "unreachable");

    // Changes: pause and resume, a subscription, a test send, as the relay logs them.
    const hook = `${dir}/hook.json`;
    await Deno.writeTextFile(hook, JSON.stringify({ url: `${px.url}/hook` }));
    const paused = await cli(["pause", "platformx", "--json"], viaEnv);
    assert.deepEqual(JSON.parse(paused.stdout).paused_destinations, ["platformx"]);
    const status = await cli(["pause", "--status"], viaEnv);
    assert.equal(status.stdout.trim(), "delivery paused for platformx");
    const resumed = await cli(["resume", "platformx"], viaEnv);
    assert.equal(resumed.stdout.trim(), "delivering to every destination");
    const created = await cli([
      "webhooks",
      "create",
      "--name",
      "ops hook",
      "--type",
      "slack-webhook",
      "--events",
      "Workspace Deleted",
      "--config",
      `@${hook}`,
      "--json",
    ], viaEnv);
    assert.equal(created.code, 0, created.stdout + created.stderr);
    const sub = JSON.parse(created.stdout);
    assert.match(sub.configuration.url, /^…/, "the secret comes back redacted");
    assert.ok(!created.stdout.includes(px.url), "the hook's URL is not printed");
    const listed = await cli(["webhooks", "list"], viaEnv);
    assert.match(listed.stdout, /^platformx {2}platformx {2}env/m);
    assert.match(
      listed.stdout,
      new RegExp(`^${sub.id} {2}slack-webhook {2}api .* — ops hook$`, "m"),
    );
    const [deleted, readOnly] = await Promise.all([
      cli(["webhooks", "delete", sub.id], viaEnv),
      cli(["webhooks", "delete", "platformx", "--json"], viaEnv),
    ]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(readOnly.code, 1);
    assert.equal(JSON.parse(readOnly.stdout).error, "read_only");
    const seenBefore = px.seen.length;
    failing = false;
    calls = 1; // the test send goes through
    const test = await cli(["send-test", "platformx", "--email", "ops@example.com"], viaEnv);
    assert.equal(test.code, 0, test.stderr);
    assert.match(test.stdout, /^platformx: sent \(HTTP 200\)/);
    assert.equal(JSON.parse(px.seen[seenBefore].body).email, "ops@example.com");

    // Replay with --wait: a 503 first, then success; progress on stderr, a summary on stdout.
    calls = 0;
    const replay = await cli([
      "messages",
      "retry",
      "--failed",
      "--destination",
      "platformx",
      "--wait",
      "--timeout",
      "30s",
    ], viaEnv);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    assert.match(replay.stdout, /^re-queued 2 failed deliveries to platformx$/m);
    assert.match(replay.stdout, /^platformx: 2 sent, 0 failed \(of 2 re-queued\)$/m);
    assert.match(replay.stderr, /^\[-{24}\] 0\/2 final: 0 sent, 0 failed$/m, "plain lines");
    assert.match(replay.stderr, /^\[#{24}\] 2\/2 final: 2 sent, 0 failed$/m);
    assert.ok(calls >= 3, "the 503 was retried");

    // One that fails again, and one that cannot succeed as configured: exit 1, both reported.
    failing = true;
    const c = await golden("TemplateWorkspaceCreated.json", {
      data: workspaceData("c@example.com"),
    });
    const d = await golden("TemplateWorkspaceCreated.json", {
      data: { owner: { id: "u1", name: "bobby" } },
    });
    for (const m of [c, d]) {
      const res = await fetch(`${relay.url}/`, { method: "POST", body: JSON.stringify(m) });
      await res.body?.cancel();
    }
    await waitFor(async () => (await failedDeliveries(relay.url)).length === 2, 10_000, "failures");
    const bad = await cli(
      ["messages", "retry", "--failed", "--destination", "platformx", "--wait", "--json"],
      viaEnv,
    );
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    const out = JSON.parse(bad.stdout);
    assert.deepEqual(out.msg_ids, [c.msg_id]);
    assert.equal(out.sent, 0);
    assert.deepEqual(out.failed.map((f: { msg_id: string }) => f.msg_id), [c.msg_id]);
    assert.equal(out.skipped[0].msg_id, d.msg_id);
    assert.match(out.skipped[0].reason, /CODER_URL\/CODER_SESSION_TOKEN are unset/);
    assert.equal(bad.stderr, "", "--json draws no progress");

    const purged = await cli(["purge", "--older-than-days", "0", "--json"], viaEnv);
    assert.deepEqual(JSON.parse(purged.stdout), { purged: 4 });

    assert.equal((await relay.kill("SIGTERM")).code, 0);
    const log = relay.output();
    for (
      const line of [
        /delivery paused for platformx/,
        /subscription [\w-]+ \(slack-webhook, ops hook\) created/,
        /subscription [\w-]+ \(slack-webhook, ops hook\) deleted/,
        /test notification to platformx: sent/,
        /re-queued 2 failed deliveries to platformx; 0 left failed/,
        /re-queued 1 failed deliveries to platformx; 1 left failed/,
        /purged 4 messages older than 0 days/,
      ]
    ) assert.match(log, line);
    assert.ok(!log.includes(ADMIN_TOKEN), "the token never reaches the relay's log");
    assert.ok(!log.includes("ops@example.com"), "nor the test's email");
    for (const run of outputs) {
      assert.ok(!run.stdout.includes(ADMIN_TOKEN) && !run.stderr.includes(ADMIN_TOKEN));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli remote: healthcheck prints the state it found", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using relay = await startRelayProcess({ RELAY_STORE: ":memory:" });
    const port = new URL(relay.url).port;
    const [human, json] = await Promise.all([
      runMain(["healthcheck"], { HOST: "0.0.0.0", PORT: port }, dir),
      runMain(["healthcheck", "--url", relay.url, "--json"], {}, dir),
    ]);
    assert.equal(human.code, 0, human.stderr);
    assert.equal(human.stdout.trim(), `ready: http://127.0.0.1:${port}/readyz: ready`);
    assert.deepEqual(JSON.parse(json.stdout), {
      ready: true,
      url: `${relay.url}/readyz`,
      status_code: 200,
      detail: "ready",
    });
    assert.equal((await relay.kill("SIGTERM")).code, 0);
    const down = await runMain(["healthcheck", "--url", relay.url, "--json"], {}, dir);
    assert.equal(down.code, 1);
    const found = JSON.parse(down.stdout);
    assert.equal(found.ready, false);
    assert.equal(found.status_code, undefined);
    assert.match(found.detail, /refused|connect/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
