import assert from "node:assert/strict";
import { validate } from "@readme/openapi-parser";
import { buildOpenApi } from "../src/admin/openapi.ts";
import { KNOWN_NOTIFICATIONS } from "../src/coder.ts";
import { ADMIN_TOKEN, adminCall, adminConfig } from "./helpers/admin.ts";
import { checkAgainstSpec } from "./helpers/openapi.ts";
import { startRelay, startStub } from "./helpers/stubs.ts";

Deno.test("the OpenAPI document passes a real OpenAPI 3.1 validator", async () => {
  const doc = structuredClone(buildOpenApi());
  // deno-lint-ignore no-explicit-any
  const result = await validate(doc as any);
  assert.equal(result.valid, true, JSON.stringify(result));
  assert.equal((doc as { openapi: string }).openapi, "3.1.0");
  // The validator can fail: an operation without responses is refused.
  const broken = structuredClone(doc) as { paths: Record<string, Record<string, unknown>> };
  broken.paths["/pause"].get = { responses: "none" };
  // deno-lint-ignore no-explicit-any
  assert.equal((await validate(broken as any)).valid, false);
});

Deno.test("GET /api/v1/openapi.json: served without a token, the same document, no secrets", async () => {
  await using px = startStub();
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const res = await adminCall(relay.url, "GET", "/api/v1/openapi.json", undefined, null);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, buildOpenApi());
  assert.ok(!res.text.includes(ADMIN_TOKEN));
  assert.ok(!res.text.includes("test-api-key"));
  // Everything else still needs the token.
  assert.equal((await adminCall(relay.url, "GET", "/api/v1/pause", undefined, null)).status, 401);
});

Deno.test("the spec check refuses an answer the document does not describe", () => {
  assert.throws(
    () => checkAgainstSpec("GET", "/api/v1/pause", 200, { paused: "yes" }),
    /does not match/,
  );
  assert.throws(
    () =>
      checkAgainstSpec("GET", "/api/v1/pause", 200, {
        paused: true,
        paused_destinations: [],
        disabled_destinations: {},
        updated_at: null,
        extra: 1,
      }),
    /does not match/,
  );
  assert.throws(() => checkAgainstSpec("GET", "/api/v1/pause", 418, {}), /not documented/);
  assert.throws(() => checkAgainstSpec("GET", "/api/v1/nowhere", 200, {}), /not in the OpenAPI/);
  checkAgainstSpec("GET", "/api/v1/pause", 200, {
    paused: true,
    paused_destinations: ["platformx"],
    disabled_destinations: { hook: { reason: "410 Gone", at: "2026-01-01T00:00:00.000Z" } },
    updated_at: "2026-01-01T00:00:00.000Z",
  });
});

Deno.test("GET /api/v1/event-types: Coder's notifications and the destinations tracking each", async () => {
  await using px = startStub();
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const created = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "builds",
    event_types: ["Workspace Autobuild Failed"],
    type: "webhook",
    configuration: { url: `${px.url}/hook` },
  });
  assert.equal(created.status, 201);
  const res = await adminCall(relay.url, "GET", "/api/v1/event-types");
  assert.equal(res.status, 200);
  assert.equal(res.json.next_cursor, null);
  const names = res.json.event_types.map((e: { name: string }) => e.name);
  assert.deepEqual(names, [...KNOWN_NOTIFICATIONS]);
  const of = (name: string) =>
    res.json.event_types.find((e: { name: string }) => e.name === name).destinations;
  assert.ok(of("Workspace Autobuild Failed").includes(created.json.id));
  assert.ok(!of("Workspace Created").includes(created.json.id));
});
