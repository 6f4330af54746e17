/**
 * Every body Coder's own template tests render goes through the relay: parse → route → transform →
 * delivery, with the outcome a user would expect for it.
 */
import assert from "node:assert/strict";
import { DEFAULT_EVENTS_TRACKED } from "../src/config.ts";
import { normalizeName } from "../src/coder.ts";
import {
  golden,
  goldenFiles,
  startRelay,
  startStub,
  testConfig,
  userData,
  waitForDelivery,
  workspaceData,
} from "./helpers/stubs.ts";

/** Expected PlatformX outcome of each golden file when every event is tracked. */
type Expect =
  | { sent: string } // the email PlatformX receives
  | { fails: RegExp } // permanent_failure with this reason
  | { ignored: true }; // not routed to PlatformX at all

const RECIPIENT = "bobby@coder.com";
/** Subjects named only by username are looked up in a stub Coder: `<username>@users.example`. */
const looked = (username: string) => ({ sent: `${username.toLowerCase()}@users.example` });

const EXPECTED: Record<string, Expect> = {
  "TemplateCustomNotification.json": { sent: RECIPIENT },
  "TemplateTaskCompleted.json": { sent: RECIPIENT },
  "TemplateTemplateDeleted.json": { fails: /names no subject/ },
  "TemplateTestNotification.json": { sent: RECIPIENT },
  "TemplateUserAccountActivated.json": looked("bobby"),
  "TemplateUserAccountCreated.json": looked("bobby"),
  "TemplateUserAccountDeleted.json": looked("bobby"),
  "TemplateUserAccountSuspended.json": looked("bobby"),
  "TemplateUserRequestedOneTimePasscode.json": { ignored: true },
  "TemplateWorkspaceAutoUpdated.json": { sent: RECIPIENT },
  "TemplateWorkspaceAutobuildFailed.json": { sent: RECIPIENT },
  "TemplateWorkspaceBuildsFailedReport.json": { fails: /names no subject/ },
  "TemplateWorkspaceCreated.json": looked("Bobby"),
  "TemplateWorkspaceDeleted.json": { sent: RECIPIENT },
  "TemplateWorkspaceDormant.json": { sent: RECIPIENT },
  "TemplateWorkspaceManualBuildFailed.json": looked("mrbobby"),
  "TemplateWorkspaceManuallyUpdated.json": looked("Bobby"),
  "TemplateYourAccountActivated.json": { sent: RECIPIENT },
  "TemplateYourAccountSuspended.json": { sent: RECIPIENT },
  "Version1.0WorkspaceDeleted.json": { sent: "danny@example.com" },
};

/** A stub Coder API that knows every username. */
function stubCoder() {
  return startStub((req) => {
    const m = req.path.match(/^\/api\/v2\/users\/([^/?]+)$/);
    if (!m || req.headers.get("coder-session-token") !== "coder-token") {
      return new Response("no", { status: 401 });
    }
    const username = decodeURIComponent(m[1]);
    return Response.json({ username, email: `${username.toLowerCase()}@users.example` });
  });
}

Deno.test("golden: the expectation table covers every file Coder renders", async () => {
  const files = [...(await goldenFiles()).keys()];
  assert.deepEqual(files.sort(), Object.keys(EXPECTED).sort());
});

Deno.test("golden: every file, every event tracked, data: null as rendered", async (t) => {
  await using px = startStub();
  await using coder = stubCoder();
  await using relay = await startRelay(testConfig({
    GETDX_API_URL: px.url,
    EVENTS_TRACKED: "*",
    CODER_URL: coder.url,
    CODER_SESSION_TOKEN: "coder-token",
  }));
  for (const [file, expected] of Object.entries(EXPECTED)) {
    await t.step(file, async () => {
      const env = await golden(file);
      const res = await relay.post(env);
      if ("ignored" in expected) {
        assert.equal(res.status, 200);
        assert.equal(res.json.status, "ignored");
        return;
      }
      assert.equal(res.status, 202, JSON.stringify(res.json));
      if ("fails" in expected) {
        const d = await waitForDelivery(relay.app.store, env.msg_id, "permanent_failure");
        assert.match(d.statusReason ?? "", expected.fails);
        return;
      }
      await waitForDelivery(relay.app.store, env.msg_id, "sent");
      const event = px.seen.map((s) => JSON.parse(s.body)).find((e) =>
        e.name === env.payload.notification_name && e.email === expected.sent
      );
      assert.ok(event, `PlatformX got ${env.payload.notification_name} for ${expected.sent}`);
      assert.equal(event.name, env.payload.notification_name, "name as Coder spells it");
      assert.ok(new TextEncoder().encode(JSON.stringify(event.metadata)).byteLength <= 1024);
      assert.ok(!JSON.stringify(event).includes("fad9020b"), "no passcode");
    });
  }
  // The one-time passcode never reached PlatformX in any form.
  assert.ok(!px.seen.some((s) => s.body.includes("fad9020b-6562-4cdb-87f1-0486f1bea415")));
});

Deno.test("golden: without identity lookup, username-only subjects fail with the fix in the reason", async () => {
  await using px = startStub();
  await using relay = await startRelay(testConfig({ GETDX_API_URL: px.url, EVENTS_TRACKED: "*" }));
  for (const [file, expected] of Object.entries(EXPECTED)) {
    if (!("sent" in expected) || expected.sent === RECIPIENT) continue;
    if (expected.sent === "danny@example.com") continue;
    const env = await golden(file);
    assert.equal((await relay.post(env)).status, 202);
    const d = await waitForDelivery(relay.app.store, env.msg_id, "permanent_failure");
    assert.match(d.statusReason ?? "", /identity lookup is off.*CODER_URL and CODER_SESSION_TOKEN/);
  }
});

Deno.test("golden: the default tracked events with data as the real server attaches it", async () => {
  await using px = startStub();
  await using relay = await startRelay(testConfig({ GETDX_API_URL: px.url }));
  const files = await goldenFiles();
  const tracked = new Set(DEFAULT_EVENTS_TRACKED.map(normalizeName));
  let sent = 0;
  for (const [file, raw] of files) {
    const name = normalizeName(raw.payload.notification_name);
    const isUser = name.startsWith("user account");
    const data = name.startsWith("workspace")
      ? workspaceData(`owner+${file}@example.com`)
      : isUser
      ? userData(`subject+${file}@example.com`)
      : raw.payload.data;
    const env = await golden(file, { data });
    const res = await relay.post(env);
    if (!tracked.has(name)) {
      assert.equal(res.status, 200, file);
      assert.equal(res.json.status, "ignored", file);
      continue;
    }
    assert.equal(res.status, 202, file);
    await waitForDelivery(relay.app.store, env.msg_id, "sent");
    sent++;
    const event = JSON.parse(px.seen.at(-1)!.body);
    assert.equal(event.email, isUser ? `subject+${file}@example.com` : `owner+${file}@example.com`);
    assert.ok(!JSON.stringify(event).includes("hunter2"), "no build parameters");
    assert.ok(!JSON.stringify(event).includes(RECIPIENT), "no recipient data");
  }
  assert.equal(sent, DEFAULT_EVENTS_TRACKED.length, "each default event has a golden file");
  assert.equal(px.seen.length, sent);
});
