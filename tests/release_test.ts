import assert from "node:assert/strict";
import meta from "../deno.json" with { type: "json" };
import { DEFAULT_STORE, DEPLOY_STORE, parseConfig } from "../src/config.ts";
import { readyzUrl } from "../src/healthcheck.ts";
import { runMain } from "./helpers/cli.ts";
import { withTempDir } from "./helpers/relay_process.ts";
import { golden, startRelayProcess, userData } from "./helpers/stubs.ts";

Deno.test("`main.ts --version` prints the version from deno.json, and only that", async () => {
  const out = await withTempDir((dir) => runMain(["--version"], {}, dir));
  assert.equal(out.code, 0);
  assert.equal(out.stdout, `${meta.version}\n`);
  assert.match(meta.version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, "deno.json has a semver");
});

Deno.test("/healthz, GET / and the start-up log line carry the same version", async () => {
  await using relay = await startRelayProcess({ RELAY_STORE: ":memory:" });
  const health = await (await fetch(`${relay.url}/healthz`)).json();
  assert.deepEqual(health, { status: "ok", version: meta.version });
  const root = await (await fetch(`${relay.url}/`)).json();
  assert.equal(root.version, meta.version);
  assert.match(
    relay.output(),
    new RegExp(`coder-relay ${meta.version.replaceAll(".", "\\.")} listening`),
  );
});

Deno.test("RELAY_STORE: a file by default, the platform's KV on Deno Deploy", () => {
  assert.equal(parseConfig({}).store, DEFAULT_STORE);
  assert.equal(parseConfig({ DENO_DEPLOYMENT_ID: "abc123" }).store, DEPLOY_STORE);
  assert.equal(
    parseConfig({ DENO_DEPLOYMENT_ID: "abc123", RELAY_STORE: ":memory:" }).store,
    ":memory:",
  );
});

Deno.test("on Deno Deploy the relay opens the platform KV (Deno.openKv() without a path)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coder-relay-deploy-" });
  try {
    // DENO_KV_DEFAULT_PATH is where Deno.openKv() without a path goes: a stand-in for Deploy's KV.
    const platformKv = `${dir}/platform.kv`;
    {
      await using relay = await startRelayProcess({
        DENO_DEPLOYMENT_ID: "test-deployment",
        DENO_KV_DEFAULT_PATH: platformKv,
      });
      const body = await golden("TemplateUserAccountCreated.json", {
        data: userData("new.user@example.com"),
      });
      const res = await fetch(`${relay.url}/`, { method: "POST", body: JSON.stringify(body) });
      assert.equal(res.status, 202, await res.text());
      const status = await relay.kill("SIGTERM");
      assert.equal(status.code, 0, relay.output());
    }
    const stat = await Deno.stat(platformKv);
    assert.ok(stat.isFile && stat.size > 0, "the message went into the platform KV");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`main.ts healthcheck` exits 0 while the relay is ready and 1 once it is gone", async () => {
  const healthcheck = async (port: string) =>
    (await withTempDir((dir) => runMain(["healthcheck"], { HOST: "0.0.0.0", PORT: port }, dir)))
      .code;
  await using relay = await startRelayProcess({ RELAY_STORE: ":memory:" });
  const port = new URL(relay.url).port;
  assert.equal(await healthcheck(port), 0);
  assert.equal((await relay.kill("SIGTERM")).code, 0);
  assert.equal(await healthcheck(port), 1);
});

Deno.test("healthcheck asks loopback when the relay listens on every interface", () => {
  assert.equal(readyzUrl({ host: "0.0.0.0", port: 8080 }), "http://127.0.0.1:8080/readyz");
  assert.equal(readyzUrl({ host: "::", port: 80 }), "http://127.0.0.1:80/readyz");
  assert.equal(readyzUrl({ host: "::1", port: 9 }), "http://[::1]:9/readyz");
  assert.equal(readyzUrl({ host: "10.0.0.5", port: 8080 }), "http://10.0.0.5:8080/readyz");
});
