/** Principle 4: no secrets or personal data in logs at INFO, checked on a real process's output. */
import assert from "node:assert/strict";
import {
  golden,
  goldenFiles,
  startRelayProcess,
  startStub,
  userData,
  waitFor,
  workspaceData,
} from "./helpers/stubs.ts";

Deno.test("INFO logs hold no emails, tokens or passcodes, whatever flows through", async () => {
  await using px = startStub();
  await using coder = startStub((req) =>
    Response.json({ email: `${req.path.split("/").pop()}@lookup.example` })
  );
  const secrets = {
    RELAY_AUTH_TOKEN: "inbound-token-123",
    GETDX_API_KEY: "dx-key-456",
    CODER_SESSION_TOKEN: "coder-token-789",
  };
  await using relay = await startRelayProcess({
    ...secrets,
    RELAY_STORE: ":memory:",
    GETDX_API_URL: px.url,
    CODER_URL: coder.url,
    EVENTS_TRACKED: "*",
    LOG_LEVEL: "INFO",
  });
  let posted = 0;
  for (const file of (await goldenFiles()).keys()) {
    for (
      const data of [null, workspaceData("owner@example.com"), userData("subject@example.com")]
    ) {
      const env = await golden(file, data ? { data } : {});
      const res = await fetch(`${relay.url}/?token=${secrets.RELAY_AUTH_TOKEN}`, {
        method: "POST",
        body: JSON.stringify(env),
      });
      await res.body?.cancel();
      assert.ok(res.status < 300);
      posted++;
    }
  }
  const wrong = await fetch(`${relay.url}/?token=guess-token`, { method: "POST", body: "{}" });
  await wrong.body?.cancel();
  await waitFor(() => px.seen.length > 20, 10_000, "deliveries");
  await relay.kill("SIGTERM");
  const out = relay.output();
  assert.ok(out.split("\n").filter((l) => l.includes("accepted")).length >= posted / 2);
  for (const secret of [...Object.values(secrets), "guess-token"]) {
    assert.ok(!out.includes(secret), `log must not contain ${secret}`);
  }
  assert.ok(!out.includes("fad9020b"), "log must not contain the one-time passcode");
  assert.ok(!out.includes("hunter2"), "log must not contain build parameters");
  const emails = out.match(/[\w.+-]+@[\w-]+\.[\w.]+/g) ?? [];
  assert.deepEqual(emails, [], "log must not contain emails");
});
