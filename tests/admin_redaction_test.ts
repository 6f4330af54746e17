/** Issue 12 item 8: the admin API never returns a URL's password or token-like query values. */
import assert from "node:assert/strict";
import { adminCall, adminConfig } from "./helpers/admin.ts";
import { startRelay, startStub } from "./helpers/stubs.ts";

Deno.test("admin API: URL credentials are redacted in output and survive a GET/PUT round trip", async () => {
  await using hook = startStub();
  await using relay = await startRelay(adminConfig());
  const url = `http://bob:pw-s3cret@127.0.0.1:${hook.port}/in?token=tok-s3cret&team=a`;
  const created = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "hook",
    event_types: ["*"],
    type: "webhook",
    configuration: { url },
  });
  assert.equal(created.status, 201, created.text);
  for (const res of [created, await adminCall(relay.url, "GET", "/api/v1/webhooks/")]) {
    assert.ok(!res.text.includes("pw-s3cret") && !res.text.includes("tok-s3cret"), res.text);
  }
  assert.equal(
    created.json.configuration.url,
    `http://bob:REDACTED@127.0.0.1:${hook.port}/in?token=REDACTED&team=a`,
  );
  const id = created.json.id;
  const put = await adminCall(relay.url, "PUT", `/api/v1/webhooks/${id}`, {
    name: "hook renamed",
    event_types: ["*"],
    type: "webhook",
    configuration: created.json.configuration,
  });
  assert.equal(put.status, 200, put.text);
  const stored = await relay.app.store.getSubscription(id);
  assert.equal(stored?.configuration.url, url, "the redacted form kept the stored URL");
});
