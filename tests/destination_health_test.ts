import assert from "node:assert/strict";
import { ADMIN_TOKEN, adminCall } from "./helpers/admin.ts";
import { golden, sleep, startRelayProcess, startStub, waitFor } from "./helpers/stubs.ts";

async function post(url: string, body: unknown) {
  const res = await fetch(`${url}/`, { method: "POST", body: JSON.stringify(body) });
  await res.body?.cancel();
  return res.status;
}

Deno.test("gone destination: later messages are stored (202) and held across a restart, then delivered once it is edited or resumed", async () => {
  let gone = true;
  await using receiver = startStub(() =>
    gone ? new Response("gone", { status: 410 }) : new Response(null, { status: 204 })
  );
  const dir = await Deno.makeTempDir();
  try {
    const env = {
      RELAY_STORE: `${dir}/relay.kv`,
      GETDX_API_KEY: "",
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      EVENTS_TRACKED: "*",
      RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
      RELAY_POLL_MS: "50",
      RELAY_RETRY_MIN_MS: "50",
    };
    const first = await golden("TemplateWorkspaceDeleted.json");
    const later = [
      await golden("TemplateWorkspaceDormant.json"),
      await golden("TemplateWorkspaceAutoUpdated.json"),
    ];
    {
      await using relay = await startRelayProcess(env);
      assert.equal(await post(relay.url, first), 202);
      await waitFor(
        async () => {
          const p = await adminCall(relay.url, "GET", "/api/v1/pause");
          return p.json.disabled_destinations?.webhook !== undefined;
        },
        10_000,
        "the destination to be disabled",
      );
      for (const env of later) assert.equal(await post(relay.url, env), 202, "stored, not ignored");
      await sleep(300);
      assert.equal(receiver.seen.length, 1, "held: nothing more sent while disabled");
      const held = await adminCall(
        relay.url,
        "GET",
        "/api/v1/messages?state=pending&destination=webhook",
      );
      assert.deepEqual(
        held.json.messages.map((m: { msg_id: string }) => m.msg_id).sort(),
        later.map((e) => e.msg_id).sort(),
        "held deliveries are visible",
      );
      await relay.kill("SIGKILL");
    }
    await using relay = await startRelayProcess(env);
    const p = await adminCall(relay.url, "GET", "/api/v1/pause");
    assert.match(p.json.disabled_destinations.webhook.reason, /410/, "survives a restart");
    // The console's overview shows the persisted health, not a replica's memory.
    const stats = await adminCall(relay.url, "GET", "/api/v1/stats?minutes=5");
    const hook = stats.json.destinations.find((d: { id: string }) => d.id === "webhook");
    assert.equal(hook.state, "disabled");
    assert.match(hook.reason, /410/);
    await sleep(300);
    assert.equal(receiver.seen.length, 1, "still held after the restart");
    gone = false;
    const resumed = await adminCall(relay.url, "POST", "/api/v1/resume", {
      destination: "webhook",
    });
    assert.deepEqual(resumed.json.disabled_destinations, {});
    await waitFor(() => receiver.seen.length === 3, 10_000, "held deliveries after resume");
    // The stub answers before the relay records the outcome: wait for the record, not the request.
    await waitFor(
      async () =>
        (await adminCall(relay.url, "GET", "/api/v1/messages?state=sent&destination=webhook"))
          .json.messages.length === 2,
      10_000,
      "both held deliveries recorded as sent",
    );
    await relay.kill("SIGTERM");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
