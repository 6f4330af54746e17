import assert from "node:assert/strict";
import { ADMIN_TOKEN, adminCall, adminConfig } from "./helpers/admin.ts";
import { csrfOf, signIn } from "./helpers/console.ts";
import { TYPE_NAMES } from "../src/destinations/registry.ts";
import { createThrottle } from "../src/console/throttle.ts";
import {
  golden,
  startRelay,
  startStub,
  testConfig,
  waitForDelivery,
  workspaceData,
} from "./helpers/stubs.ts";

Deno.test("console sign-in: wrong token refused, cookie HttpOnly SameSite=Strict expiring, no token in it", async () => {
  await using px = startStub();
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const login = await fetch(`${relay.url}/ui/login`);
  const page = await login.text();
  assert.match(page, /<label for="token">Admin token<\/label>/);
  assert.match(page, /type="password" id="token"/);
  assert.match(page, /<button type="submit" class="primary">Sign in<\/button>/);
  const csp = login.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|https?:/);

  const wrong = await fetch(`${relay.url}/ui/login`, {
    method: "POST",
    headers: { origin: relay.url, "content-type": "application/x-www-form-urlencoded" },
    body: "token=nope",
  });
  assert.equal(wrong.status, 401);
  assert.match(await wrong.text(), /Wrong admin token/);
  assert.equal(wrong.headers.get("set-cookie"), null);

  const unauth = await fetch(`${relay.url}/ui/messages`, { redirect: "manual" });
  await unauth.body?.cancel();
  assert.equal(unauth.status, 303);
  assert.equal(unauth.headers.get("location"), "/ui/login");

  const res = await fetch(`${relay.url}/ui/login`, {
    method: "POST",
    redirect: "manual",
    headers: { origin: relay.url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: ADMIN_TOKEN }),
  });
  await res.body?.cancel();
  const cookie = res.headers.get("set-cookie") ?? "";
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.match(cookie, /Max-Age=\d+/);
  assert.doesNotMatch(cookie, /Secure/, "plain http: no Secure");
  assert.ok(!cookie.includes(ADMIN_TOKEN));
  assert.ok(!(res.headers.get("location") ?? "").includes(ADMIN_TOKEN));
  // Behind a TLS proxy the cookie is Secure.
  const https = await fetch(`${relay.url}/ui/login`, {
    method: "POST",
    redirect: "manual",
    headers: {
      origin: relay.url,
      "x-forwarded-proto": "https",
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ token: ADMIN_TOKEN }),
  });
  await https.body?.cancel();
  assert.match(https.headers.get("set-cookie") ?? "", /; Secure/);

  const s = await signIn(relay.url);
  const home = await s.get("/ui");
  assert.equal(home.status, 200);
  assert.ok(!home.text.includes(ADMIN_TOKEN));
  // A forged cookie is not a session.
  const forged = await fetch(`${relay.url}/ui`, {
    redirect: "manual",
    headers: { cookie: s.cookie.replace(/.$/, (c) => (c === "A" ? "B" : "A")) },
  });
  await forged.body?.cancel();
  assert.equal(forged.status, 303);
  // Sign out ends it in the browser.
  const other = await signIn(relay.url);
  const csrf = csrfOf((await s.get("/ui/destinations")).text);
  const out = await s.post("/ui/logout", {});
  assert.equal(out.status, 303);
  assert.match(out.headers.get("set-cookie") ?? "", /Max-Age=0/);
  // And on the server: a copy of the cookie kept after signing out is no session any more.
  const reused = await s.get("/ui");
  assert.equal(reused.status, 303);
  assert.equal(reused.headers.get("location"), "/ui/login");
  const pause = await fetch(`${relay.url}/ui/destinations/pause`, {
    method: "POST",
    headers: {
      cookie: s.cookie,
      origin: relay.url,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ csrf }),
  });
  await pause.body?.cancel();
  assert.equal(pause.status, 403);
  assert.equal((await adminCall(relay.url, "GET", "/api/v1/pause")).json.paused, false);
  // Another session goes on.
  assert.equal((await other.get("/ui")).status, 200);
});

Deno.test("console CSRF: a cross-origin or token-less post changes nothing", async () => {
  await using px = startStub();
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const s = await signIn(relay.url);
  const csrf = csrfOf((await s.get("/ui/destinations")).text);
  const attempts: Record<string, string>[] = [
    { origin: "http://evil.example", csrf }, // another origin, even with the token
    { origin: relay.url, csrf: "forged" },
    { origin: relay.url },
    { csrf }, // no Origin at all
  ];
  for (const a of attempts) {
    const { origin, ...fields } = a;
    const res = await fetch(`${relay.url}/ui/destinations/pause`, {
      method: "POST",
      headers: {
        cookie: s.cookie,
        "content-type": "application/x-www-form-urlencoded",
        ...(origin ? { origin } : {}),
      },
      body: new URLSearchParams(fields),
    });
    assert.equal(res.status, 403, JSON.stringify(a));
    await res.body?.cancel();
  }
  assert.equal((await adminCall(relay.url, "GET", "/api/v1/pause")).json.paused, false);
  const ok = await s.post("/ui/destinations/pause", {}, "/ui/destinations");
  assert.equal(ok.status, 200);
  assert.equal((await adminCall(relay.url, "GET", "/api/v1/pause")).json.paused, true);
});

Deno.test("console: a One-Time Passcode never reaches the console's HTML", async () => {
  await using slack = startStub(() => Response.json({ ok: true, channel: "D1", ts: "1.1" }));
  await using relay = await startRelay(adminConfig({
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_API_URL: slack.url,
    EVENTS_TRACKED: "*",
  }));
  const otp = await golden("TemplateUserRequestedOneTimePasscode.json");
  const passcode = "314159-265358";
  const env = {
    ...otp,
    body: `Your one-time passcode is ${passcode}`,
    body_markdown: `Your one-time passcode is **${passcode}**`,
    title: `Passcode ${passcode}`,
    payload: { ...otp.payload, labels: { ...otp.payload.labels, one_time_passcode: passcode } },
  };
  assert.equal((await relay.post(env)).status, 202);
  const s = await signIn(relay.url);
  for (const path of ["/ui", "/ui/messages", `/ui/messages/${env.msg_id}`]) {
    const page = await s.get(path);
    assert.equal(page.status, 200, path);
    assert.ok(!page.text.includes(passcode), `${path} shows the passcode`);
    assert.ok(!page.text.includes("314159"), path);
  }
  assert.match((await s.get(`/ui/messages/${env.msg_id}`)).text, /One-Time Passcode/);
});

Deno.test("console without RELAY_ADMIN_TOKEN: disabled, says why", async () => {
  await using relay = await startRelay(testConfig({}));
  const res = await fetch(`${relay.url}/ui/login`);
  assert.equal(res.status, 403);
  assert.match(await res.text(), /RELAY_ADMIN_TOKEN/);
});

Deno.test("console actions over HTTP: replay, validation next to the field, create, delete", async () => {
  let fail = true;
  await using px = startStub(() =>
    fail ? new Response("down", { status: 503 }) : Response.json({ ok: true })
  );
  await using relay = await startRelay(
    adminConfig({ GETDX_API_URL: px.url, RELAY_MAX_ATTEMPTS: "1" }),
  );
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  assert.equal((await relay.post(env)).status, 202);
  await waitForDelivery(relay.app.store, env.msg_id, "permanent_failure");
  const s = await signIn(relay.url);
  fail = false;
  const detail = `/ui/messages/${env.msg_id}`;
  const replay = await s.post(`${detail}/replay`, { destination: "platformx" }, detail);
  assert.equal(replay.status, 200);
  assert.match(replay.text, /Replay queued: platformx/);
  await waitForDelivery(relay.app.store, env.msg_id, "sent");

  const bad = await s.post("/ui/destinations/new", {
    name: "hook",
    type: "webhook",
    event_types: "*",
    enabled: "on",
    "config-webhook-url": "not a url",
    "config-webhook-format": "coder",
  }, "/ui/destinations/new");
  assert.equal(bad.status, 400);
  assert.match(bad.text, /id="config-webhook-url"[^>]*aria-invalid="true"/);
  assert.match(bad.text, /<p class="error" id="err-config-webhook-url">expected an http\(s\) URL/);

  const good = await s.post("/ui/destinations/new", {
    name: "hook",
    type: "webhook",
    event_types: "Workspace Created",
    enabled: "on",
    "config-webhook-url": `${px.url}/hook`,
    "config-webhook-format": "coder",
    "config-webhook-headers": "Authorization: Bearer hush-hush-secret",
  }, "/ui/destinations/new");
  assert.equal(good.status, 200);
  assert.match(good.text, /Created hook/);
  assert.ok(!good.text.includes("hush-hush-secret"), "secrets are write-only");
  const list = await adminCall(relay.url, "GET", "/api/v1/webhooks/");
  const hook = list.json.results.find((r: { name: string }) => r.name === "hook");
  assert.equal(hook.configuration.url, `${px.url}/hook`);
  const edit = await s.get(`/ui/destinations/${hook.id}/edit`);
  assert.ok(!edit.text.includes("hush-hush-secret"));
  const del = await s.post(
    `/ui/destinations/${hook.id}/delete`,
    {},
    `/ui/destinations/${hook.id}/delete`,
  );
  assert.match(del.text, /Deleted/);
  assert.equal((await adminCall(relay.url, "GET", `/api/v1/webhooks/${hook.id}`)).status, 404);
});

Deno.test("console destination form: every registered type, Teams and webhook templates included", async () => {
  await using relay = await startRelay(adminConfig({}));
  const s = await signIn(relay.url);
  const form = await s.get("/ui/destinations/new");
  for (const type of TYPE_NAMES) assert.match(form.text, new RegExp(`data-type="${type}"`));
  // Secrets from the registry's SECRET_FIELDS: password inputs, never prefilled.
  assert.match(form.text, /type="password" id="config-teams-url"/);
  assert.match(form.text, /<textarea id="config-webhook-template"/);
  assert.match(form.text, /id="config-webhook-preset"[^]*?<option value=""\s+selected>\(none\)/);
  assert.match(form.text, /<option value="discord"\s*>discord<\/option>/);

  const teams = await s.post("/ui/destinations/new", {
    name: "ops-teams",
    type: "teams",
    event_types: "*",
    enabled: "on",
    "config-teams-url": "http://127.0.0.1:9/workflows/run?sig=teams-flow-signature",
  }, "/ui/destinations/new");
  assert.match(teams.text, /Created ops-teams/);
  const chat = await s.post("/ui/destinations/new", {
    name: "chat",
    type: "webhook",
    event_types: "*",
    enabled: "on",
    "config-webhook-url": "http://127.0.0.1:9/hooks/chat",
    "config-webhook-format": "coder",
    "config-webhook-preset": "discord",
  }, "/ui/destinations/new");
  assert.match(chat.text, /Created chat/);
  const list = await adminCall(relay.url, "GET", "/api/v1/webhooks/");
  const byName = (n: string) => list.json.results.find((r: { name: string }) => r.name === n);
  assert.equal(byName("ops-teams").type, "teams");
  assert.equal(byName("chat").configuration.preset, "discord");
  assert.equal(byName("chat").configuration.template, undefined);
  const edit = await s.get(`/ui/destinations/${byName("ops-teams").id}/edit`);
  assert.ok(!edit.text.includes("teams-flow-signature"), "the flow URL is write-only");
  assert.match(edit.text, /a value is set; leave empty to keep it/);
});

Deno.test("console destination form: delivery settings reach the API; a bad one is shown next to its field", async () => {
  await using relay = await startRelay(adminConfig({}));
  const s = await signIn(relay.url);
  const fields = {
    name: "paced",
    type: "webhook",
    event_types: "*",
    enabled: "on",
    "config-webhook-url": "http://127.0.0.1:9/hooks/paced",
    "config-webhook-format": "coder",
  };
  const form = await s.get("/ui/destinations/new");
  assert.match(form.text, /<label for="delivery-retry_schedule">Retry schedule/);
  const bad = await s.post("/ui/destinations/new", {
    ...fields,
    "delivery-concurrency": "0",
    "delivery-retry_schedule": "1000, soon",
  }, "/ui/destinations/new");
  assert.equal(bad.status, 400);
  assert.match(bad.text, /id="delivery-concurrency"[^>]*aria-invalid="true"/);
  assert.match(bad.text, /<p class="error" id="err-delivery-concurrency">must be at least 1/);
  assert.match(bad.text, /<p class="error" id="err-delivery-retry_schedule">/);
  assert.match(bad.text, /id="delivery-retry_schedule"[^>]*value="1000, soon"/);
  const none = await adminCall(relay.url, "GET", "/api/v1/webhooks/");
  assert.ok(!none.json.results.some((r: { name: string }) => r.name === "paced"));

  const good = await s.post("/ui/destinations/new", {
    ...fields,
    "delivery-concurrency": "2",
    "delivery-rate_limit": "0.5",
    "delivery-retry_schedule": "1000, 60000",
  }, "/ui/destinations/new");
  assert.match(good.text, /Created paced/);
  const list = await adminCall(relay.url, "GET", "/api/v1/webhooks/");
  const paced = list.json.results.find((r: { name: string }) => r.name === "paced");
  assert.deepEqual(paced.delivery, {
    concurrency: 2,
    rate_limit: 0.5,
    retry_schedule: [1000, 60000],
  });
  const edit = await s.get(`/ui/destinations/${paced.id}/edit`);
  assert.match(edit.text, /id="delivery-retry_schedule"[^>]*value="1000, 60000"/);
  // Emptied on edit: the relay-wide defaults again.
  const cleared = await s.post(`/ui/destinations/${paced.id}/edit`, {
    ...fields,
  }, `/ui/destinations/${paced.id}/edit`);
  assert.match(cleared.text, /Saved paced/);
  const after = await adminCall(relay.url, "GET", `/api/v1/webhooks/${paced.id}`);
  assert.equal(after.json.delivery, undefined);
});

Deno.test("console sign-in throttle over HTTP: the sixth try in a minute is 429 without a token check", async () => {
  await using relay = await startRelay(adminConfig({}));
  const attempt = async (token: string) => {
    const res = await fetch(`${relay.url}/ui/login`, {
      method: "POST",
      redirect: "manual",
      headers: { origin: relay.url, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token }),
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  // A success forgets earlier failures.
  for (let i = 0; i < 4; i++) assert.equal((await attempt("nope")).status, 401);
  assert.equal((await attempt(ADMIN_TOKEN)).status, 303);
  for (let i = 0; i < 5; i++) assert.equal((await attempt(`nope-${i}`)).status, 401);
  // Even the right token is not checked now.
  const blocked = await attempt(ADMIN_TOKEN);
  assert.equal(blocked.status, 429);
  assert.match(
    blocked.text,
    /Too many failed sign-ins from this address: try again in \d+ seconds/,
  );
  const wait = Number(blocked.headers.get("retry-after"));
  assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
  assert.equal(blocked.headers.get("set-cookie"), null);
});

Deno.test("sign-in throttle: a sliding window per address, bounded in size", () => {
  const t = createThrottle({ limit: 3, windowMs: 1000, maxClients: 2 });
  for (const at of [0, 100, 200]) t.failed("a", at);
  assert.equal(t.retryAfter("a", 300), 1);
  assert.equal(t.retryAfter("b", 300), 0);
  assert.equal(t.retryAfter("a", 1001), 0, "the oldest failure left the window");
  t.failed("a", 1001);
  assert.equal(t.retryAfter("a", 1002), 1);
  t.succeeded("a");
  assert.equal(t.retryAfter("a", 1002), 0);
  // Full: the least recently failing address is forgotten first.
  for (const at of [0, 1, 2]) t.failed("b", at);
  for (const at of [3, 4, 5]) t.failed("c", at);
  for (const at of [6, 7, 8]) t.failed("d", at);
  assert.equal(t.retryAfter("b", 9), 0);
  assert.equal(t.retryAfter("c", 9), 1);
  assert.equal(t.retryAfter("d", 9), 1);
});
