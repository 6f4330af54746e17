/** Issue 12 item 7 and issue 10 "logs answer why didn't it arrive?", on a real relay's output. */
import assert from "node:assert/strict";
import { startupWarnings } from "../src/startup_warnings.ts";
import { golden, startRelayProcess, waitFor, workspaceData } from "./helpers/stubs.ts";

const post = async (url: string, body: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { method: "POST", body, headers });
  await res.body?.cancel();
  return res.status;
};

Deno.test("process: text logs escape control characters; rejections logged at WARN, rate-limited", async () => {
  const token = "inbound-token-abcdef";
  await using relay = await startRelayProcess({
    RELAY_STORE: ":memory:",
    RELAY_AUTH_TOKEN: token,
    EVENTS_TRACKED: "*",
    RELAY_MAX_BODY_BYTES: "2048",
  });
  const auth = { authorization: `Bearer ${token}` };
  const forged = await golden("TemplateWorkspaceCreated.json", {
    notification_name: "x\n2026-01-01 [ERR] fake line\r\n\u001b[31mred\u0007",
    data: workspaceData("owner.person@example.com"),
  });
  assert.equal(await post(`${relay.url}/`, JSON.stringify(forged), auth), 202);
  for (let i = 0; i < 20; i++) {
    assert.equal(await post(`${relay.url}/`, "{}", { authorization: "Bearer wrong" }), 401);
  }
  assert.equal(
    await post(`${relay.url}/`, "{not json", { ...auth, "x-message-id": "abc-123" }),
    400,
  );
  assert.equal(await post(`${relay.url}/`, "x".repeat(5000), auth), 413);
  await waitFor(() => relay.output().includes("413"), 5000, "the 413 line");
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await post(`${relay.url}/`, "{}", { authorization: "Bearer wrong" }), 401);
  await waitFor(() => /suppressed/.test(relay.output()), 5000, "the suppressed count");
  await waitFor(() => relay.output().includes("dry run (GETDX"), 5000, "the dry-run record");
  await relay.kill("SIGTERM");
  const out = relay.output();
  assert.ok(!out.includes("\u001b[31m"), "no raw ANSI escape");
  assert.ok(!out.includes("\u0007"), "no raw BEL");
  assert.ok(!/^2026-01-01 \[ERR\] fake/m.test(out), "no forged line");
  assert.match(out, /\\n2026-01-01 \[ERR\] fake line\\r\\n\\x1b\[31mred\\x07/);
  const rejected = out.split("\n").filter((l) => l.includes("rejected webhook"));
  const unauthorized = rejected.filter((l) => / 401 /.test(l));
  assert.equal(
    unauthorized.length,
    2,
    `one line, then one with the count:\n${rejected.join("\n")}`,
  );
  assert.match(unauthorized[0], /\[WRN\].*from 127\.0\.0\.1/);
  assert.match(unauthorized[1], /\(20 similar lines suppressed\)|\(19 similar lines suppressed\)/);
  assert.ok(rejected.some((l) => / 400 .*msg_id abc-123/.test(l)), rejected.join("\n"));
  assert.ok(rejected.some((l) => / 413 /.test(l)));
  assert.ok(!out.includes(token) && !out.includes("Bearer wrong"));
  assert.ok(!out.includes("owner.person@example.com"), "no email at INFO");
  const dryRun = out.split("\n").filter((l) => l.includes("dry run (GETDX_API_KEY unset)"));
  assert.equal(dryRun.length, 1, "the dry-run record is one line");
  assert.match(dryRun[0], /\[INF\].* at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z /);
});

Deno.test("process: JSON lines carry no stray escaped quotes; open auth and metrics are warned about", async () => {
  await using relay = await startRelayProcess({
    RELAY_STORE: ":memory:",
    RELAY_LOG_FORMAT: "json",
    HOST: "0.0.0.0",
  });
  await waitFor(() => relay.output().includes("listening"), 5000, "listening line");
  await relay.kill("SIGTERM");
  const lines = relay.output().trim().split("\n").map((l) => JSON.parse(l));
  const listening = lines.find((l) => /listening/.test(l.message));
  assert.match(listening.message, /listening on http:\/\/0\.0\.0\.0:\d+$/);
  const warns = lines.filter((l) => l.level === "WARN").map((l) => l.message).join("\n");
  assert.match(warns, /inbound auth is open: RELAY_AUTH_TOKEN is not set/);
  assert.match(warns, /\/metrics is open on 0\.0\.0\.0/);
});

Deno.test("startupWarnings: loopback listeners and set tokens are quiet", () => {
  assert.deepEqual(
    startupWarnings({ authToken: "t", metricsToken: undefined, host: "127.0.0.1" }),
    [],
  );
  assert.deepEqual(startupWarnings({ authToken: "t", metricsToken: undefined, host: "::1" }), []);
  assert.equal(startupWarnings({ authToken: "t", metricsToken: "m", host: "0.0.0.0" }).length, 0);
  assert.equal(startupWarnings({ authToken: undefined, metricsToken: "m", host: "::" }).length, 1);
});
