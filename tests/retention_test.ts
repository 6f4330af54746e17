import assert from "node:assert/strict";
import { adminCall, adminConfig } from "./helpers/admin.ts";
import { golden, startRelay, startStub, waitForDelivery, workspaceData } from "./helpers/stubs.ts";

const DAY = 86_400_000;

async function scrape(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

Deno.test("retention: a clock 8 days forward or purge {older_than_days: 0} never deletes undelivered messages; a warning gauge says they are overdue", async () => {
  await using px = startStub(() => Response.json({ ok: true }));
  let wall = Date.now();
  await using relay = await startRelay(
    adminConfig({ GETDX_API_URL: px.url, RELAY_RETENTION_DAYS: "7" }),
    { clock: { now: () => wall } },
  );
  assert.equal((await adminCall(relay.url, "POST", "/api/v1/pause")).status, 200);
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  assert.equal((await relay.post(env)).status, 202);

  wall += 8 * DAY;
  assert.deepEqual(await relay.app.retention.runOnce(), { purged: 0, overdue: 1 });
  assert.equal(await scrape(relay.url, "coder_relay_retention_overdue"), 1);
  const purged = await adminCall(relay.url, "POST", "/api/v1/messages/purge", {
    older_than_days: 0,
  });
  assert.deepEqual(purged.json, { purged: 0 });
  assert.ok(await relay.app.store.getBody(env.msg_id), "the undelivered message is kept");

  await adminCall(relay.url, "POST", "/api/v1/resume");
  await waitForDelivery(relay.app.store, env.msg_id, "sent", "platformx");
  wall += 6 * DAY;
  assert.deepEqual(
    await relay.app.retention.runOnce(),
    { purged: 0, overdue: 0 },
    "retention counts from when it was delivered, not received",
  );
  assert.equal(await scrape(relay.url, "coder_relay_retention_overdue"), 0);
  wall += 2 * DAY;
  assert.deepEqual(await relay.app.retention.runOnce(), { purged: 1, overdue: 0 });
  assert.equal(await relay.app.store.getMessage(env.msg_id), null);
});

Deno.test("clock step backwards: a due retry is not postponed by the size of the step", async () => {
  let up = false;
  await using px = startStub(() =>
    up ? Response.json({ ok: true }) : new Response("down", { status: 503 })
  );
  let wall = Date.now();
  let mono = 0;
  await using relay = await startRelay(
    adminConfig({ GETDX_API_URL: px.url, RELAY_RETRY_MIN_MS: "1000", RELAY_RETRY_MAX_MS: "1000" }),
    { clock: { now: () => wall, elapsed: () => mono }, random: () => 1 },
  );
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  assert.equal((await relay.post(env)).status, 202);
  const failed = await waitForDelivery(
    relay.app.store,
    env.msg_id,
    "temporary_failure",
    "platformx",
  );
  assert.equal(failed.nextAttemptAt - failed.updatedAt, 1000);
  up = true;
  wall -= 3_600_000; // NTP steps the clock an hour back…
  mono += 1500; // …while 1.5 s pass.
  await relay.app.worker.runOnce();
  const sent = await waitForDelivery(relay.app.store, env.msg_id, "sent", "platformx", 3000);
  assert.equal(sent.attempts, 2);
});
