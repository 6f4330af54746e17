/** Issue 12 item 10: webhook bodies go on as the bytes Coder sent unless something must be removed. */
import assert from "node:assert/strict";
import { golden, startRelay, startStub, testConfig, waitFor } from "./helpers/stubs.ts";

Deno.test("webhook: the body Coder sent is forwarded byte for byte (big numbers keep their digits)", async () => {
  await using hook = startStub();
  await using relay = await startRelay(testConfig({
    GETDX_API_KEY: "",
    WEBHOOK_URL: hook.url,
    WEBHOOK_EVENTS_TRACKED: "*",
    EVENTS_TRACKED: "no such event",
  }));
  const msg = await golden("TemplateWorkspaceCreated.json");
  const raw = JSON.stringify(msg, null, 1).replace(
    '"msg_id"',
    '"big": 12345678901234567890123, "float": 1.50, "msg_id"',
  );
  const res = await fetch(`${relay.url}/`, { method: "POST", body: raw });
  assert.equal(res.status, 202);
  await res.body?.cancel();
  await waitFor(() => hook.seen.length === 1, 5000, "delivery");
  assert.equal(hook.seen[0].body, raw);
  assert.ok(hook.seen[0].body.includes("12345678901234567890123"));
});
