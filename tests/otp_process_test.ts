/**
 * Issue 12 item 1: a One-Time Passcode leaves only as a Slack DM to its recipient, checked when
 * it is sent, not only when it was accepted. Each attack from the issue against a real relay
 * process; every destination is a loopback stub, and none may ever see the passcode.
 */
import { createEnvelopeCache } from "../src/delivery/envelopes.ts";
import assert from "node:assert/strict";
import type { Envelope } from "../src/coder.ts";
import { attempt } from "../src/delivery/send.ts";
import type { Destination } from "../src/destinations/destination.ts";
import type { Sink } from "../src/sinks/sink.ts";
import type { DeliveryRecord, Lease } from "../src/store/store.ts";
import { slack } from "../src/sinks/slack.ts";
import { ADMIN_TOKEN, adminCall } from "./helpers/admin.ts";
import {
  freePort,
  golden,
  type Seen,
  startRelayProcess,
  startStub,
  waitFor,
} from "./helpers/stubs.ts";

const OTP = "TemplateUserRequestedOneTimePasscode.json";

/** Slack's Web API as far as a DM needs it: every email is user U1, every post is taken. */
function slackApi(req: Seen): Response {
  if (req.path.includes("users.lookupByEmail")) {
    return Response.json({ ok: true, user: { id: "U1" } });
  }
  return Response.json({ ok: true });
}

function passcode(msg: Envelope): string {
  const code = msg.payload.labels?.one_time_passcode;
  assert.ok(code, "the fixture carries a passcode");
  return code;
}

/** No request any stub saw carries the passcode, in its path or its body. */
function assertNeverSent(code: string, ...seen: Seen[][]) {
  for (const req of seen.flat()) {
    assert.ok(!req.body.includes(code) && !req.path.includes(code), `passcode sent to ${req.path}`);
  }
}

/** The delivery of `msgId` to `destination` once it is final, as the admin API shows it. */
function finalDelivery(base: string, msgId: string, destination: string) {
  return waitFor(
    async () => {
      const m = await adminCall(base, "GET", `/api/v1/messages/${msgId}`);
      const d = m.json?.deliveries?.find((x: { destination: string }) =>
        x.destination === destination
      );
      return d && !["pending", "leased", "temporary_failure"].includes(d.state) ? d : undefined;
    },
    10_000,
    `${msgId} → ${destination} to be final`,
  );
}

function assertRefused(delivery: { state: string; status_reason: string }, code: string) {
  assert.equal(delivery.state, "permanent_failure");
  assert.match(delivery.status_reason, /One-Time Passcode may only leave as a Slack DM/);
  assert.ok(!delivery.status_reason.includes(code));
}

async function post(base: string, msg: Envelope) {
  const res = await fetch(`${base}/`, { method: "POST", body: JSON.stringify(msg) });
  assert.equal(res.status, 202, await res.text());
}

Deno.test("process: an OTP held for a paused DM subscription is not sent after the subscription becomes a webhook or a channel", async () => {
  await using api = startStub(slackApi);
  await using hook = startStub();
  await using relay = await startRelayProcess({
    RELAY_STORE: ":memory:",
    RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
    RELAY_ALLOW_PRIVATE_DESTINATIONS: "127.0.0.1/32",
    SLACK_API_URL: `${api.url}/api`,
    RELAY_POLL_MS: "50",
  });
  const changes = [
    { type: "webhook", configuration: { url: hook.url } },
    { configuration: { channel: "#general" } },
  ];
  for (const change of changes) {
    const created = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
      name: "dm",
      event_types: ["*"],
      type: "slack",
      configuration: { token: "xoxb-otp-test" },
    });
    assert.equal(created.status, 201, created.text);
    const id: string = created.json.id;
    const paused = await adminCall(relay.url, "POST", "/api/v1/pause", { destination: id });
    assert.equal(paused.status, 200, paused.text);
    const msg = await golden(OTP);
    await post(relay.url, msg);
    const patched = await adminCall(relay.url, "PATCH", `/api/v1/webhooks/${id}`, change);
    assert.equal(patched.status, 200, patched.text);
    assert.equal(
      (await adminCall(relay.url, "POST", "/api/v1/resume", { destination: id })).status,
      200,
    );
    assertRefused(await finalDelivery(relay.url, msg.msg_id, id), passcode(msg));
    assertNeverSent(passcode(msg), api.seen, hook.seen);
    assert.equal((await adminCall(relay.url, "DELETE", `/api/v1/webhooks/${id}`)).status, 204);
  }
});

Deno.test("process: an OTP queued while Slack is down is not posted to SLACK_CHANNEL after a restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const env = {
      RELAY_STORE: `${dir}/relay.kv`,
      RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
      SLACK_BOT_TOKEN: "xoxb-otp-env",
      RELAY_POLL_MS: "50",
      RELAY_RETRY_MIN_MS: "50",
      RELAY_RETRY_MAX_MS: "200",
    };
    const msg = await golden(OTP);
    {
      // Nothing listens on this port: every attempt is refused, so the OTP stays queued.
      await using relay = await startRelayProcess({
        ...env,
        SLACK_API_URL: `http://127.0.0.1:${freePort()}/api`,
      });
      await post(relay.url, msg);
      await waitFor(
        async () => {
          const m = await adminCall(relay.url, "GET", `/api/v1/messages/${msg.msg_id}`);
          return m.json?.deliveries?.[0]?.state === "temporary_failure";
        },
        10_000,
        "a refused attempt",
      );
      // Paused, so no attempt is in flight when the process dies; resumed after the restart.
      await adminCall(relay.url, "POST", "/api/v1/pause", { destination: "slack" });
      await relay.kill("SIGKILL");
    }
    await using api = startStub(slackApi);
    await using relay = await startRelayProcess({
      ...env,
      SLACK_API_URL: `${api.url}/api`,
      SLACK_CHANNEL: "#general",
    });
    await adminCall(relay.url, "POST", "/api/v1/resume", { destination: "slack" });
    assertRefused(await finalDelivery(relay.url, msg.msg_id, "slack"), passcode(msg));
    assertNeverSent(passcode(msg), api.seen);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("process: a DM subscription cannot name its own Slack API host", async () => {
  await using evil = startStub(slackApi);
  await using relay = await startRelayProcess({
    RELAY_STORE: ":memory:",
    RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
    RELAY_ALLOW_PRIVATE_DESTINATIONS: "127.0.0.1/32",
    RELAY_POLL_MS: "50",
  });
  const dm = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "dm",
    event_types: ["*"],
    type: "slack",
    configuration: { token: "xoxb-otp-test", api_url: `${evil.url}/api` },
  });
  assert.equal(dm.status, 400, dm.text);
  assert.match(dm.json.message, /configuration\.api_url: a DM destination .*One-Time Passcodes/);
  // A channel destination may use another host: it never carries a passcode.
  const channel = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "channel",
    event_types: ["*"],
    type: "slack",
    configuration: { token: "xoxb-otp-test", channel: "#ops", api_url: `${evil.url}/api` },
  });
  assert.equal(channel.status, 201, channel.text);
  const msg = await golden(OTP);
  const res = await fetch(`${relay.url}/`, { method: "POST", body: JSON.stringify(msg) });
  await res.body?.cancel();
  const other = await golden("TemplateWorkspaceDeleted.json");
  await post(relay.url, other);
  await finalDelivery(relay.url, other.msg_id, channel.json.id);
  assertNeverSent(passcode(msg), evil.seen);
});

Deno.test("slack schema: a DM destination may only use Slack's own API host", () => {
  const ok = (c: Record<string, unknown>) => slack.schema.safeParse(c).success;
  assert.equal(ok({ token: "xoxb-1" }), true);
  assert.equal(ok({ token: "xoxb-1", api_url: "https://slack.com/api/" }), true);
  assert.equal(ok({ token: "xoxb-1", api_url: "https://slack.com.evil.example/api" }), false);
  assert.equal(ok({ token: "xoxb-1", api_url: "http://slack.com/api" }), false);
  assert.equal(
    ok({ token: "xoxb-1", channel: "#ops", api_url: "https://proxy.example/api" }),
    true,
  );
});

Deno.test("send: a secret message is checked against the destination as it is at send time", async () => {
  const msg = await golden(OTP);
  const body = new TextEncoder().encode(JSON.stringify(msg));
  const sent: string[] = [];
  const sink = (allowsSecrets: boolean): Sink => ({
    idempotent: false,
    dedupeFanout: false,
    allowsSecrets,
    send(ctx) {
      sent.push(ctx.msgId);
      return Promise.resolve({ state: "sent" });
    },
  });
  const dest = (allowsSecrets: boolean) =>
    ({ id: "d", type: "slack", sink: sink(allowsSecrets) }) as unknown as Destination;
  const lease = {
    delivery: { msgId: msg.msg_id, destination: "d", attempts: 0, receivedAt: 0 } as DeliveryRecord,
    expired: false,
    token: "t",
    previous: "pending",
  } satisfies Lease;
  const store = createEnvelopeCache({ getBody: () => Promise.resolve(body) });
  const clock = { now: () => 0 };
  const refused = await attempt(dest(false), lease, store, clock);
  assert.deepEqual(refused.result.state, "permanent_failure");
  assert.ok(refused.result.state === "permanent_failure" && refused.result.notSent);
  assert.deepEqual(sent, [], "the sink was never called");
  assert.equal((await attempt(dest(true), lease, store, clock)).result.state, "sent");
  assert.deepEqual(sent, [msg.msg_id]);
});
