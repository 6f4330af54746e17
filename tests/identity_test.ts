import assert from "node:assert/strict";
import { createCoderResolver } from "../src/identity.ts";
import { startStub } from "./helpers/stubs.ts";

function resolver(url: string, now = () => Date.now()) {
  return createCoderResolver({
    url,
    sessionToken: "tok",
    fetch,
    now,
    timeoutMs: 2000,
    hitTtlMs: 1000,
    missTtlMs: 500,
  });
}

Deno.test("identity: found users are cached until the TTL runs out", async () => {
  await using coder = startStub((req) =>
    req.headers.get("coder-session-token") === "tok"
      ? Response.json({ username: "bobby", email: "bobby@example.com" })
      : new Response("unauthorized", { status: 401 })
  );
  let t = 0;
  const r = resolver(coder.url, () => t);
  assert.deepEqual(await r.resolve("bobby"), { kind: "found", email: "bobby@example.com" });
  assert.deepEqual(await r.resolve("Bobby"), { kind: "found", email: "bobby@example.com" });
  assert.equal(coder.seen.length, 1, "second lookup served from cache");
  assert.equal(coder.seen[0].path, "/api/v2/users/bobby");
  t = 1001;
  await r.resolve("bobby");
  assert.equal(coder.seen.length, 2, "looked up again after the TTL");
});

Deno.test("identity: unknown users are a cached miss; a bad token is final; 5xx is temporary", async () => {
  let status = 404;
  await using coder = startStub(() => new Response("x", { status }));
  const r = resolver(coder.url);
  const miss = await r.resolve("ghost");
  assert.equal(miss.kind, "missing");
  await r.resolve("ghost");
  assert.equal(coder.seen.length, 1, "misses are cached too");
  status = 401;
  const bad = await r.resolve("other");
  assert.equal(bad.kind, "missing");
  assert.match((bad as { reason: string }).reason, /CODER_SESSION_TOKEN/);
  status = 502;
  assert.equal((await r.resolve("third")).kind, "temporary");
});

Deno.test("identity: Coder unreachable is temporary", async () => {
  const probe = startStub();
  const url = probe.url;
  await probe.close();
  const found = await resolver(url).resolve("bobby");
  assert.equal(found.kind, "temporary");
  assert.match((found as { reason: string }).reason, /could not connect/);
});

Deno.test("identity: concurrent lookups of one user share one request", async () => {
  await using coder = startStub(async () => {
    await new Promise((r) => setTimeout(r, 50));
    return Response.json({ email: "bobby@example.com" });
  });
  const r = resolver(coder.url);
  const found = await Promise.all([r.resolve("bobby"), r.resolve("BOBBY"), r.resolve("bobby")]);
  assert.ok(found.every((f) => f.kind === "found"));
  assert.equal(coder.seen.length, 1);
});
