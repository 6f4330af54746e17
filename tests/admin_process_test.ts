import assert from "node:assert/strict";
import { ADMIN_TOKEN, adminCall } from "./helpers/admin.ts";
import { golden, sleep, startRelayProcess, startStub, waitFor } from "./helpers/stubs.ts";

Deno.test("process: admin API disabled with a log line; with a token, pause survives a restart and the token is never logged", async () => {
  await using px = startStub();
  const dir = await Deno.makeTempDir();
  try {
    const env = {
      RELAY_STORE: `${dir}/relay.kv`,
      GETDX_API_KEY: "dx-key-for-process-test",
      GETDX_API_URL: px.url,
      RELAY_POLL_MS: "50",
    };
    {
      await using relay = await startRelayProcess(env);
      const res = await adminCall(relay.url, "GET", "/api/v1/pause");
      assert.equal(res.status, 403);
      await waitFor(() => relay.output().includes("admin API disabled"), 5000, "log line");
      assert.equal((await relay.kill("SIGTERM")).code, 0);
    }
    const withAdmin = {
      ...env,
      RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
      LOG_LEVEL: "DEBUG",
      RELAY_ALLOW_PRIVATE_DESTINATIONS: "127.0.0.1/32",
    };
    let output = "";
    let subId = "";
    {
      await using relay = await startRelayProcess(withAdmin);
      assert.equal((await adminCall(relay.url, "POST", "/api/v1/pause")).status, 200);
      const sub = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
        name: "team analytics",
        event_types: ["Workspace Deleted"],
        type: "platformx",
        configuration: { api_key: "dx-subscription-secret-1", api_url: px.url },
      });
      assert.equal(sub.status, 201);
      subId = sub.json.id;
      assert.equal((await adminCall(relay.url, "GET", "/api/v1/messages")).status, 200);
      assert.equal(
        (await adminCall(relay.url, "GET", "/api/v1/messages", undefined, "wrong")).status,
        403,
      );
      assert.equal((await relay.kill("SIGTERM")).code, 0);
      output += relay.output();
    }
    await using relay = await startRelayProcess(withAdmin);
    const env1 = await golden("TemplateWorkspaceCreated.json", {
      data: { owner: { id: "u1", name: "bobby", email: "bobby@example.com" } },
    });
    const res = await fetch(`${relay.url}/`, { method: "POST", body: JSON.stringify(env1) });
    assert.equal(res.status, 202);
    await res.body?.cancel();
    await sleep(400);
    assert.equal(px.seen.length, 0, "still paused after the restart");
    const resumed = await adminCall(relay.url, "POST", "/api/v1/resume");
    assert.equal(resumed.json.paused, false);
    await waitFor(() => px.seen.length === 1, 10_000, "delivery after resume");
    assert.equal((await relay.kill("SIGTERM")).code, 0);
    output += relay.output();
    assert.match(output, /delivery paused for every destination/);
    assert.ok(!output.includes(ADMIN_TOKEN), "the admin token never reaches the log");
    assert.ok(!output.includes("dx-subscription-secret-1"), "nor a subscription's secret");
    assert.match(
      relay.output(),
      new RegExp(`destination ${subId} \\(platformx\\) for workspace deleted — team analytics`),
      "API subscriptions are listed at start",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
