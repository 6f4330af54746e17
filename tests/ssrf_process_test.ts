import assert from "node:assert/strict";
import { ADMIN_TOKEN, adminCall } from "./helpers/admin.ts";
import { golden, startRelayProcess, startStub, waitFor } from "./helpers/stubs.ts";

// Issue 12 item 3 against a real relay process. Every request goes to loopback: the refused
// private addresses are refused before any connection is made.

const sub = (url: string) => ({
  name: "internal",
  event_types: ["*"],
  type: "webhook",
  configuration: { url },
});

Deno.test("process: subscriptions to private addresses are refused by default, allowed by RELAY_ALLOW_PRIVATE_DESTINATIONS", async () => {
  await using internal = startStub(() =>
    new Response(
      "internal admin console: password=hunter2 owner jane.doe@example.com " + "x".repeat(300),
      { status: 403 },
    )
  );
  const dir = await Deno.makeTempDir();
  try {
    const env = {
      RELAY_STORE: `${dir}/relay.kv`,
      RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
      RELAY_POLL_MS: "50",
      RELAY_RETRY_MIN_MS: "20",
      RELAY_RETRY_MAX_MS: "100",
    };
    let id = "";
    {
      await using relay = await startRelayProcess(env);
      const hosts = [
        internal.url,
        `http://localhost:${internal.port}/`,
        `http://[::1]:${internal.port}/`,
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f.1/",
      ];
      for (const url of hosts) {
        const res = await adminCall(relay.url, "POST", "/api/v1/webhooks/", sub(url));
        assert.equal(res.status, 400, url);
        assert.equal(res.json.error, "destination_not_allowed");
        assert.match(res.json.message, /^configuration\.url: .*RELAY_ALLOW_PRIVATE_DESTINATIONS/);
      }
      const slack = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
        name: "dm",
        event_types: ["*"],
        type: "slack",
        configuration: { token: "xoxb-1-2", api_url: "https://evil.example.com/collect#" },
      });
      assert.equal(slack.status, 400, "an api_url with a fragment is refused");
      assert.match(slack.json.message, /configuration\.api_url/);
      assert.equal(internal.seen.length, 0);
      await relay.kill("SIGKILL");
    }
    {
      await using relay = await startRelayProcess({
        ...env,
        RELAY_ALLOW_PRIVATE_DESTINATIONS: "127.0.0.1/32",
      });
      const created = await adminCall(relay.url, "POST", "/api/v1/webhooks/", sub(internal.url));
      assert.equal(created.status, 201);
      id = created.json.id;
      const test = await adminCall(relay.url, "POST", `/api/v1/webhooks/${id}/test`, {});
      assert.equal(internal.seen.length, 1, "allowlisted: delivered");
      const reason: string = test.json.status_reason;
      assert.match(reason, /HTTP 403/);
      assert.ok(reason.length < 140, `short summary: ${reason}`);
      assert.ok(!reason.includes("hunter2") && !reason.includes("jane.doe"), reason);
      await relay.kill("SIGKILL");
    }
    {
      // The same stored subscription after the allowlist is removed: refused at connect time.
      await using relay = await startRelayProcess(env);
      const msg = await golden("TemplateWorkspaceCreated.json");
      const res = await fetch(`${relay.url}/`, { method: "POST", body: JSON.stringify(msg) });
      assert.equal(res.status, 202);
      await res.body?.cancel();
      await waitFor(
        async () => {
          const m = await adminCall(relay.url, "GET", `/api/v1/messages/${msg.msg_id}`);
          return m.json.deliveries?.some((d: { destination: string; state: string }) =>
            d.destination === id && d.state === "permanent_failure"
          );
        },
        10_000,
        "the delivery to refuse",
      );
      const m = await adminCall(relay.url, "GET", `/api/v1/messages/${msg.msg_id}`);
      const d = m.json.deliveries.find((x: { destination: string }) => x.destination === id);
      assert.match(d.status_reason, /loopback/);
      assert.equal(internal.seen.length, 1, "nothing reached the stub");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
