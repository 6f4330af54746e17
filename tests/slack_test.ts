import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  golden,
  type Seen,
  sleep,
  startRelay,
  startStub,
  testConfig,
  type TestRelay,
  userData,
  waitFor,
  waitForDelivery,
  withConfigFile,
  workspaceData,
} from "./helpers/stubs.ts";

const USERS: Record<string, string> = {
  "bobby@coder.com": "U0BOBBY",
  "admin@coder.com": "U0ADMIN",
};

/** A Slack Web API stand-in: users.lookupByEmail from USERS, chat.postMessage via `post`. */
function slackApi(post: (req: Seen) => Response = () => Response.json({ ok: true, ts: "1.2" })) {
  return startStub((req) => {
    const url = new URL(req.path, "http://x");
    if (url.pathname === "/users.lookupByEmail") {
      const id = USERS[url.searchParams.get("email") ?? ""];
      return Response.json(
        id ? { ok: true, user: { id } } : { ok: false, error: "users_not_found" },
      );
    }
    if (url.pathname === "/chat.postMessage") return post(req);
    return Response.json({ ok: false, error: "unknown_method" });
  });
}

const lookups = (seen: Seen[]) => seen.filter((s) => s.path.startsWith("/users.lookupByEmail"));
const posts = (seen: Seen[]) => seen.filter((s) => s.path === "/chat.postMessage");

/** Posts one "User account created" event as Coder fans it out: one copy per admin. */
async function postFanout(relay: TestRelay): Promise<string[]> {
  const ids = [];
  for (const email of ["bobby@coder.com", "admin@coder.com"]) {
    const env = await golden("TemplateUserAccountCreated.json", {
      user_email: email,
      data: userData(),
    });
    ids.push(env.msg_id);
    assert.equal((await relay.post(env)).status, 202);
  }
  return ids;
}

function slackConfig(apiUrl: string, env: Record<string, string> = {}) {
  return testConfig({
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_API_URL: apiUrl,
    GETDX_API_KEY: "",
    EVENTS_TRACKED: "no such event",
    ...env,
  });
}

Deno.test("DM: looks the recipient up by email once, then posts blocks to their user id", async () => {
  await using slack = slackApi();
  await using relay = await startRelay(slackConfig(slack.url));
  const first = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  assert.equal((await relay.post(first)).status, 202);
  await waitForDelivery(relay.app.store, first.msg_id, "sent", "slack");

  const second = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(second)).status, 202);
  await waitForDelivery(relay.app.store, second.msg_id, "sent", "slack");

  assert.equal(lookups(slack.seen).length, 1, "the second message must use the cached user id");
  const [lookup] = lookups(slack.seen);
  assert.equal(lookup.method, "GET");
  assert.equal(lookup.headers.get("authorization"), "Bearer xoxb-test");
  assert.equal(new URL(lookup.path, "http://x").searchParams.get("email"), "bobby@coder.com");
  const sent = posts(slack.seen).map((p) => JSON.parse(p.body));
  assert.equal(sent.length, 2);
  assert.equal(posts(slack.seen)[0].headers.get("authorization"), "Bearer xoxb-test");
  assert.deepEqual(sent.map((b) => b.channel), ["U0BOBBY", "U0BOBBY"]);
  const body = sent[0];
  assert.equal(body.blocks[0].type, "header");
  assert.equal(body.blocks[0].text.text, "Workspace 'bobby-workspace' has been created");
  assert.equal(body.blocks[1].text.type, "mrkdwn");
  assert.match(body.blocks[1].text.text, /The workspace \*bobby-workspace\* has been created/);
  assert.deepEqual(body.blocks[2].elements[0].url, "http://test.com/@Bobby/bobby-workspace");
  assert.match(body.text, /bobby-workspace/);
  assert.ok(!JSON.stringify(body).includes("hunter2"), "build parameters never reach Slack");
});

Deno.test("DM: each recipient of a fanned-out event gets their own DM", async () => {
  await using slack = slackApi();
  await using relay = await startRelay(slackConfig(slack.url));
  const ids = await postFanout(relay);
  for (const id of ids) await waitForDelivery(relay.app.store, id, "sent", "slack");
  assert.deepEqual(
    posts(slack.seen).map((p) => JSON.parse(p.body).channel).sort(),
    ["U0ADMIN", "U0BOBBY"],
  );
});

Deno.test("DM: users_not_found is permanent, cached, and nothing is posted", async () => {
  await using slack = slackApi();
  await using relay = await startRelay(slackConfig(slack.url));
  const ids = [];
  for (let i = 0; i < 2; i++) {
    const env = await golden("TemplateWorkspaceDeleted.json", { user_email: "ghost@coder.com" });
    ids.push(env.msg_id);
    assert.equal((await relay.post(env)).status, 202);
  }
  for (const id of ids) {
    const d = await waitForDelivery(relay.app.store, id, "permanent_failure", "slack");
    assert.match(d.statusReason ?? "", /users_not_found/);
    assert.equal(d.attempts, 1);
  }
  assert.equal(lookups(slack.seen).length, 1, "the miss is cached too");
  assert.equal(posts(slack.seen).length, 0);
});

Deno.test("ratelimited with Retry-After: Slack is paused, then the message is posted once", async () => {
  let calls = 0;
  await using slack = slackApi(() =>
    ++calls === 1
      ? Response.json({ ok: false, error: "ratelimited" }, {
        status: 429,
        headers: { "retry-after": "1" },
      })
      : Response.json({ ok: true })
  );
  await using relay = await startRelay(slackConfig(slack.url));
  const env = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(env)).status, 202);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "sent", "slack", 10_000);
  assert.equal(d.attempts, 2);
  assert.equal(d.history[0].state, "temporary_failure");
  const [a, b] = posts(slack.seen);
  assert.equal(posts(slack.seen).length, 2);
  assert.ok(b.at - a.at >= 950, `retried after ${b.at - a.at} ms, Retry-After said 1 s`);
});

Deno.test("invalid_auth is permanent: no retry, a reason naming the token", async () => {
  await using slack = slackApi(() => Response.json({ ok: false, error: "invalid_auth" }));
  await using relay = await startRelay(slackConfig(slack.url, { SLACK_CHANNEL: "#coder" }));
  const env = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(env)).status, 202);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "permanent_failure", "slack");
  assert.match(d.statusReason ?? "", /invalid_auth.*SLACK_BOT_TOKEN/);
  await sleep(200);
  assert.equal(posts(slack.seen).length, 1);
});

Deno.test("internal_error from Slack is retried", async () => {
  let calls = 0;
  await using slack = slackApi(() =>
    Response.json(++calls === 1 ? { ok: false, error: "internal_error" } : { ok: true })
  );
  await using relay = await startRelay(slackConfig(slack.url, { SLACK_CHANNEL: "C123" }));
  const env = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(env)).status, 202);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "sent", "slack");
  assert.equal(d.attempts, 2);
});

Deno.test("channel mode: one post per event, with username and icon, no lookup", async () => {
  await using slack = slackApi();
  await using relay = await startRelay(slackConfig(slack.url, {
    SLACK_CHANNEL: "#coder-events",
    SLACK_USERNAME: "Coder",
    SLACK_ICON: ":robot_face:",
  }));
  const ids = await postFanout(relay);
  await waitForDelivery(relay.app.store, ids[0], "sent", "slack");
  await waitForDelivery(relay.app.store, ids[1], "deduplicated", "slack");
  assert.equal(lookups(slack.seen).length, 0);
  assert.equal(posts(slack.seen).length, 1, "fan-out copies collapse into one channel post");
  const body = JSON.parse(posts(slack.seen)[0].body);
  assert.equal(body.channel, "#coder-events");
  assert.equal(body.username, "Coder");
  assert.equal(body.icon_emoji, ":robot_face:");
  assert.equal(body.blocks[0].text.text, 'User account "bobby" created');
});

Deno.test("incoming webhook mode: blocks POSTed; a bad payload fails alone, a removed hook disables", async () => {
  let answer = () => new Response("ok");
  await using hook = startStub(() => answer());
  await using relay = await startRelay(testConfig({
    SLACK_WEBHOOK_URL: `${hook.url}/services/T0/B0/secret`,
    GETDX_API_KEY: "",
    EVENTS_TRACKED: "no such event",
  }));
  const env = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(env)).status, 202);
  await waitForDelivery(relay.app.store, env.msg_id, "sent", "slack-webhook");
  assert.equal(hook.seen[0].path, "/services/T0/B0/secret");
  const body = JSON.parse(hook.seen[0].body);
  assert.equal(body.blocks[0].type, "header");
  assert.equal(body.channel, undefined);

  const disabled = async () =>
    (await relay.app.store.getPause()).disabled?.["slack-webhook"] !== undefined;
  const failWith = async (text: string, status: number, template: string) => {
    answer = () => new Response(text, { status });
    const env = await golden(template);
    assert.equal((await relay.post(env)).status, 202);
    return waitForDelivery(relay.app.store, env.msg_id, "permanent_failure", "slack-webhook");
  };
  const failed = await failWith("invalid_payload", 400, "TemplateWorkspaceDormant.json");
  assert.match(failed.statusReason ?? "", /HTTP 400: invalid_payload/);
  assert.equal(await disabled(), false, "that message only");

  const d = await failWith("no_service", 404, "TemplateWorkspaceAutoUpdated.json");
  assert.match(
    d.statusReason ?? "",
    /HTTP 404: no_service: destination disabled until it is edited/,
  );
  await waitFor(disabled, 2000, "the hook to be disabled");
  const after = await relay.post(await golden("TemplateWorkspaceBuildsFailedReport.json"));
  assert.equal(after.status, 202, "stored and held for the disabled hook");
  await sleep(200);
  assert.equal(hook.seen.length, 3);
});

Deno.test("OTP: only ever a DM to its own recipient, never a channel, webhook or PlatformX", async () => {
  await using slack = slackApi();
  await using hook = startStub(() => new Response("ok"));
  await using generic = startStub(() => new Response(null, { status: 204 }));
  await using px = startStub(() => Response.json({ ok: true }));
  const file = {
    destinations: [{
      id: "ops-channel",
      type: "slack",
      configuration: { token: "xoxb-ops", channel: "#ops", api_url: slack.url },
    }],
  };
  await withConfigFile(file, async (path) => {
    await using relay = await startRelay(testConfig({
      SLACK_BOT_TOKEN: "xoxb-test",
      SLACK_API_URL: slack.url,
      SLACK_WEBHOOK_URL: hook.url,
      WEBHOOK_URL: generic.url,
      GETDX_API_URL: px.url,
      EVENTS_TRACKED: "*",
      RELAY_CONFIG: path,
    }));
    const env = await golden("TemplateUserRequestedOneTimePasscode.json");
    const res = await relay.post(env);
    assert.equal(res.status, 202);
    assert.deepEqual(
      (res.json.deliveries as { destination: string }[]).map((d) => d.destination),
      ["slack"],
    );
    await waitForDelivery(relay.app.store, env.msg_id, "sent", "slack");
    const stored = await relay.app.store.getMessage(env.msg_id);
    assert.deepEqual(stored?.deliveries.map((d) => d.destination), ["slack"]);
    const sent = posts(slack.seen).map((p) => JSON.parse(p.body));
    assert.deepEqual(sent.map((b) => b.channel), ["U0BOBBY"], "the DM goes to the recipient");
    await sleep(200);
    assert.equal(hook.seen.length + generic.seen.length + px.seen.length, 0);
  });
});

Deno.test("/v1/webhook keeps the Slack bot's contract: its 400 messages, 204 once stored", async () => {
  await using slack = slackApi();
  await using relay = await startRelay(slackConfig(slack.url));
  const env = await golden("TemplateWorkspaceDeleted.json");
  const cases: [unknown, string][] = [
    [{ ...env, title: "" }, 'Error: missing fields: "title", or "body"'],
    [{ ...env, body: undefined }, 'Error: missing fields: "title", or "body"'],
    [{ ...env, payload: undefined }, 'Error: missing "payload" field'],
    [
      { ...env, payload: { ...env.payload, user_email: undefined } },
      'Error: missing fields: "user_email", "actions"',
    ],
    [
      { ...env, payload: { ...env.payload, actions: null } },
      'Error: missing fields: "user_email", "actions"',
    ],
  ];
  for (const [body, message] of cases) {
    const res = await relay.post(body, { path: "/v1/webhook" });
    assert.equal(res.status, 400, message);
    assert.equal(res.json.message, message);
  }
  assert.equal(await relay.app.store.getMessage(env.msg_id), null, "refused bodies change nothing");

  const res = await fetch(`${relay.url}/v1/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(env),
  });
  assert.equal(res.status, 204);
  assert.equal(await res.text(), "");
  await waitForDelivery(relay.app.store, env.msg_id, "sent", "slack");
  // The root path keeps the relay's own answers.
  const root = await relay.post({ ...env, msg_id: crypto.randomUUID(), title: "" });
  assert.equal(root.status, 202);
});

function sign(secret: string, ts: string, body: string) {
  return `v0=${createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex")}`;
}

Deno.test("/slack/interactions: 200 for a valid signature, 401 tampered, stale or missing", async () => {
  const secret = "8f742231b10e8888abcd99yyyzzz85a5";
  await using relay = await startRelay(testConfig({ SLACK_SIGNING_SECRET: secret }));
  const body = "payload=" + encodeURIComponent(JSON.stringify({ type: "block_actions" }));
  const now = String(Math.floor(Date.now() / 1000));
  const call = async (headers: Record<string, string>, text = body) => {
    const res = await fetch(`${relay.url}/slack/interactions`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: text,
    });
    await res.body?.cancel();
    return res.status;
  };
  const valid = { "x-slack-request-timestamp": now, "x-slack-signature": sign(secret, now, body) };
  assert.equal(await call(valid), 200);
  assert.equal(await call(valid, body + "x"), 401, "tampered body");
  assert.equal(
    await call({ ...valid, "x-slack-signature": sign("wrong-secret", now, body) }),
    401,
    "wrong secret",
  );
  const old = String(Math.floor(Date.now() / 1000) - 6 * 60);
  assert.equal(
    await call({ "x-slack-request-timestamp": old, "x-slack-signature": sign(secret, old, body) }),
    401,
    "stale timestamp, correctly signed",
  );
  assert.equal(await call({}), 401, "no signature");
});

Deno.test("/slack/interactions does not exist without SLACK_SIGNING_SECRET", async () => {
  await using relay = await startRelay(testConfig());
  assert.equal((await relay.post({}, { path: "/slack/interactions" })).status, 404);
});

Deno.test("a Slack outage delays Slack only: PlatformX is delivered meanwhile", async () => {
  await using slack = slackApi(() => new Response("down", { status: 503 }));
  await using px = startStub(() => Response.json({ ok: true }));
  await using relay = await startRelay(testConfig({
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_API_URL: slack.url,
    GETDX_API_URL: px.url,
  }));
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  assert.equal((await relay.post(env)).status, 202);
  await waitForDelivery(relay.app.store, env.msg_id, "sent", "platformx");
  // Read between attempts: a read during one would find the delivery leased.
  await waitFor(
    async () => {
      const m = await relay.app.store.getMessage(env.msg_id);
      const d = m?.deliveries.find((x) => x.destination === "slack");
      return d?.state === "temporary_failure" && d.attempts >= 2;
    },
    5000,
    "Slack retried, and still to be retried",
  );
  assert.ok(posts(slack.seen).length >= 2);
});
