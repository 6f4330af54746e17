import assert from "node:assert/strict";
import { openKvStore } from "../src/store/kv.ts";
import { ADMIN_TOKEN } from "./helpers/admin.ts";
import { runMain } from "./helpers/cli.ts";
import {
  golden,
  GOLDEN_DIR,
  startRelay,
  startStub,
  testConfig,
  waitForDelivery,
  workspaceData,
} from "./helpers/stubs.ts";

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cli: help, usage errors (64), configuration errors (78), check-config", async () => {
  await withTempDir(async (dir) => {
    const store = `${dir}/relay.kv`;
    const [help, unknown, badFlag, badConfig, shortToken, check] = await Promise.all([
      runMain(["--help"], {}, dir),
      runMain(["frobnicate"], {}, dir),
      runMain(["messages", "list", "--colour"], { RELAY_STORE: store }, dir),
      runMain(["check-config"], { RELAY_MAX_ATTEMPTS: "zero" }, dir),
      runMain(["check-config"], { RELAY_ADMIN_TOKEN: "hunter2-short" }, dir),
      runMain(["check-config", "--json"], {
        RELAY_STORE: store,
        RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
        GETDX_API_KEY: "dx-secret-key-123",
      }, dir),
    ]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /\n {2}messages +list, show and replay/);
    assert.match(help.stdout, /main\.ts help <command>/);
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    assert.equal(badFlag.code, 64);
    assert.match(badFlag.stderr, /^coder-relay: Unknown option '--colour'\n/);
    assert.match(badFlag.stderr, /Usage: main\.ts messages list/, "the command's usage");
    assert.ok(!badFlag.stderr.includes("check-config"), "not every command's usage");
    assert.equal(badConfig.code, 78);
    assert.match(badConfig.stderr, /RELAY_MAX_ATTEMPTS: expected a whole number/);
    assert.equal(shortToken.code, 78);
    assert.match(shortToken.stderr, /RELAY_ADMIN_TOKEN: must be at least 16 characters/);
    assert.ok(!shortToken.stderr.includes("hunter2-short"), "a token is never echoed");
    assert.equal(check.code, 0, check.stderr);
    const report = JSON.parse(check.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.admin_api, true);
    assert.equal(report.metrics_auth, false);
    assert.equal(report.destinations[0].id, "platformx");
    assert.ok(!check.stdout.includes(ADMIN_TOKEN) && !check.stderr.includes(ADMIN_TOKEN));
    assert.ok(!check.stdout.includes("dx-secret-key-123"));
    await assert.rejects(Deno.stat(store), "check-config does not create a store");
  });
});

Deno.test("cli: check-config --online tests the PlatformX key without recording an event", async () => {
  await using px = startStub(() => new Response("unauthorized", { status: 401 }));
  await withTempDir(async (dir) => {
    const env = { GETDX_API_KEY: "dx-secret-key-123", GETDX_API_URL: px.url };
    const bad = await runMain(["check-config", "--online"], env, dir);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /online: FAILED: PlatformX rejected the API key \(HTTP 401\)/);
    px.handler = () => Response.json({ ok: false, error: "name is required" }, { status: 422 });
    const good = await runMain(["check-config", "--online", "--json"], env, dir);
    assert.equal(good.code, 0, good.stdout);
    assert.equal(JSON.parse(good.stdout).destinations[0].online.ok, true);
    assert.equal(px.seen.length, 2);
    assert.deepEqual(JSON.parse(px.seen[1].body), {}, "the probe carries no event");
    assert.equal(px.seen[1].headers.get("authorization"), "Bearer dx-secret-key-123");
  });
});

Deno.test("cli: transform prints what each destination would receive, without network", async () => {
  await using px = startStub();
  await withTempDir(async (dir) => {
    const env = { GETDX_API_KEY: "k", GETDX_API_URL: px.url, RELAY_STORE: `${dir}/relay.kv` };
    const file = `${dir}/created.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify(await golden("TemplateWorkspaceCreated.json", { data: workspaceData() })),
    );
    const json = await runMain(["transform", file, "--json"], env, dir);
    assert.equal(json.code, 0, json.stderr);
    const [d] = JSON.parse(json.stdout).destinations;
    assert.equal(d.destination, "platformx");
    assert.equal(d.routed, true);
    assert.equal(d.body.name, "Workspace Created");
    assert.equal(d.body.email, "owner@example.com");
    assert.ok(!json.stdout.includes("hunter2"), "build parameters are not forwarded");

    const [human, untracked, invalid, noFile] = await Promise.all([
      runMain(["transform", file], env, dir),
      runMain(["transform", `${GOLDEN_DIR}/TemplateTestNotification.json`], env, dir),
      runMain(["transform", `${GOLDEN_DIR}/INDEX.tsv`], env, dir),
      runMain(["transform"], env, dir),
    ]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /== platformx \(platformx\)\n\{\n {2}"name": "Workspace Created"/);
    assert.equal(untracked.code, 0);
    assert.match(untracked.stdout, /platformx \(platformx\): not routed here/);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /not valid JSON/);
    assert.equal(noFile.code, 64);
    assert.equal(px.seen.length, 0, "transform never calls the destination");
  });
});

Deno.test("cli: messages list, show and retry against a store file", async () => {
  await using px = startStub(() =>
    Response.json({ ok: false, error: "unknown user" }, { status: 422 })
  );
  await withTempDir(async (dir) => {
    const env = { GETDX_API_KEY: "k", GETDX_API_URL: px.url, RELAY_STORE: `${dir}/relay.kv` };
    const failed = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
    {
      await using relay = await startRelay(testConfig(env));
      await relay.post(failed);
      await waitForDelivery(relay.app.store, failed.msg_id, "permanent_failure");
    }
    const [list, listFailed, listSent, show, showJson, missing, badState, memory, noStore, cursor] =
      await Promise
        .all([
          runMain(["messages", "list"], env, dir),
          runMain(["messages", "list", "--state", "permanent_failure", "--json"], env, dir),
          runMain(["messages", "list", "--state", "sent", "--json"], env, dir),
          runMain(["messages", "show", failed.msg_id], env, dir),
          runMain(["messages", "show", failed.msg_id, "--json"], env, dir),
          runMain(["messages", "show", "nope"], env, dir),
          runMain(["messages", "list", "--state", "lost"], env, dir),
          runMain(["messages", "list"], { ...env, RELAY_STORE: ":memory:" }, dir),
          runMain(["messages", "list"], { ...env, RELAY_STORE: `${dir}/elsewhere.kv` }, dir),
          runMain(["messages", "list", "--cursor", "garbage", "--json"], env, dir),
        ]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      new RegExp(`${failed.msg_id}  Workspace Created  platformx:permanent_failure`),
    );
    assert.deepEqual(
      JSON.parse(listFailed.stdout).messages.map((m: { msg_id: string }) => m.msg_id),
      [failed.msg_id],
    );
    assert.deepEqual(JSON.parse(listSent.stdout).messages, []);
    assert.equal(show.code, 0);
    assert.match(show.stdout, /platformx: permanent_failure after 1 attempt\(s\)/);
    assert.match(show.stdout, /HTTP 422 \d+ ms PlatformX answered HTTP 422/);
    assert.equal(JSON.parse(showJson.stdout).deliveries[0].history[0].status_code, 422);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no message "nope"/);
    assert.equal(badState.code, 64);
    assert.match(badState.stderr, /--state/);
    assert.equal(memory.code, 78);
    assert.equal(noStore.code, 78);
    assert.match(noStore.stderr, /RELAY_STORE: no store at .*elsewhere\.kv/);
    await assert.rejects(Deno.stat(`${dir}/elsewhere.kv`), "no empty store is created");
    assert.equal(cursor.code, 1);
    assert.deepEqual(JSON.parse(cursor.stdout), {
      error: "invalid_cursor",
      message: "cursor is not one this relay issued",
    });

    const retry = await runMain(["messages", "retry", failed.msg_id, "--json"], env, dir);
    assert.equal(retry.code, 0, retry.stderr);
    const retried = JSON.parse(retry.stdout);
    assert.equal(retried.msg_id, failed.msg_id);
    assert.deepEqual(retried.requeued.map((d: { destination: string }) => d.destination), [
      "platformx",
    ]);
    const again = await runMain(["messages", "retry", failed.msg_id, "--json"], env, dir);
    assert.equal(again.code, 1);
    assert.equal(JSON.parse(again.stdout).error, "nothing_to_retry");
    assert.match(JSON.parse(again.stdout).message, /no delivery of this message is failed/);
    const store = await openKvStore(env.RELAY_STORE);
    try {
      const m = await store.getMessage(failed.msg_id);
      assert.equal(m?.deliveries[0].state, "pending");
    } finally {
      await store.close();
    }

    // Let it fail again, then re-queue every failed delivery of the destination.
    {
      await using relay = await startRelay(testConfig(env));
      await waitForDelivery(relay.app.store, failed.msg_id, "permanent_failure");
    }
    // No relay runs now: the bounded wait ends, exit 1, naming what is still open.
    const all = await runMain(
      ["messages", "retry", "--failed", "--destination", "platformx", "--wait", "--timeout", "1s"],
      env,
      dir,
    );
    assert.equal(all.code, 1, all.stderr);
    assert.match(all.stdout, /re-queued 1 failed deliveries to platformx/);
    assert.match(all.stdout, /platformx: 0 sent, 0 failed, 1 still open when the wait ended/);
    assert.match(all.stdout, new RegExp(`still open: ${failed.msg_id}`));
    const usage = await runMain(["messages", "retry", "--failed"], env, dir);
    assert.equal(usage.code, 64);
  });
});

Deno.test("cli: send-test reports the outcome and exits 1 when it fails", async () => {
  await using px = startStub();
  await withTempDir(async (dir) => {
    const env = { GETDX_API_KEY: "k", GETDX_API_URL: px.url, RELAY_STORE: `${dir}/relay.kv` };
    const ok = await runMain(["send-test", "platformx", "--email", "ops@example.com"], env, dir);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^platformx: sent \(HTTP 200\) in \d+ ms/);
    assert.equal(JSON.parse(px.seen[0].body).name, "Test Notification");
    assert.equal(JSON.parse(px.seen[0].body).email, "ops@example.com");
    px.handler = () => new Response("no", { status: 403 });
    const bad = await runMain(["send-test", "platformx", "--json"], env, dir);
    assert.equal(bad.code, 1);
    assert.equal(JSON.parse(bad.stdout).state, "permanent_failure");
    const unknown = await runMain(["send-test", "slack"], env, dir);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no destination "slack" \(known: platformx\)/);
  });
});

Deno.test("cli: per-command help lists the flags and their values", async () => {
  await withTempDir(async (dir) => {
    const [viaFlag, viaHelp, sub, pause, unknownTopic, json] = await Promise.all([
      runMain(["messages", "--help"], {}, dir),
      runMain(["help", "messages"], {}, dir),
      runMain(["messages", "list", "--help"], {}, dir),
      runMain(["help", "pause"], {}, dir),
      runMain(["help", "frobnicate"], {}, dir),
      runMain(["messages", "show", "--json"], {}, dir),
    ]);
    assert.equal(viaFlag.code, 0);
    assert.equal(viaFlag.stdout, viaHelp.stdout);
    assert.equal(sub.stdout, viaHelp.stdout);
    assert.match(viaFlag.stdout, /^Usage: main\.ts messages list/);
    assert.match(
      viaFlag.stdout,
      /--state S .*\n.*temporary_failure,\n.*permanent_failure, unknown/,
    );
    assert.match(viaFlag.stdout, /ISO 8601\n +time \(2026-01-31/);
    assert.match(viaFlag.stdout, /--timeout D .*90s, 5m, 1h/);
    assert.match(viaFlag.stdout, /--url URL/);
    assert.ok(!viaFlag.stdout.includes("transform"), "only this command");
    assert.match(
      pause.stdout,
      /^Usage: main\.ts pause \[<destination>\]\n {7}main\.ts pause --status/,
    );
    assert.equal(unknownTopic.code, 64);
    assert.equal(json.code, 64);
    assert.deepEqual(JSON.parse(json.stdout), {
      error: "usage",
      message: "messages show takes one msg_id",
    });
    assert.equal(json.stderr, "", "--json errors go to stdout alone");
  });
});

Deno.test("cli: pause, resume, webhooks and purge work on the store file too", async () => {
  await withTempDir(async (dir) => {
    // The subscription points at loopback: the local admin API applies the same guard.
    const env = {
      RELAY_STORE: `${dir}/relay.kv`,
      RELAY_ALLOW_PRIVATE_DESTINATIONS: "127.0.0.1/32",
    };
    const none = await runMain(["pause", "--json"], env, dir);
    assert.equal(none.code, 78, "no store to change");
    const listBefore = await runMain(["webhooks", "list"], env, dir);
    assert.equal(listBefore.code, 0, listBefore.stderr);
    assert.match(listBefore.stdout, /^platformx {2}platformx {2}env/);
    await Deno.writeTextFile(`${dir}/hook.json`, '{"url": "http://127.0.0.1:9/hook"}');
    {
      await using _relay = await startRelay(testConfig(env));
    }
    const create = [
      "webhooks",
      "create",
      "--name=team",
      "--type=webhook",
      "--events=*",
      "--config=@hook.json",
      "--json",
    ];
    const refused = await runMain(create, { RELAY_STORE: env.RELAY_STORE }, dir);
    assert.notEqual(refused.code, 0, "without the allowlist, loopback is refused locally too");
    assert.match(refused.stdout + refused.stderr, /RELAY_ALLOW_PRIVATE_DESTINATIONS/);
    const created = await runMain(create, env, dir);
    assert.equal(created.code, 0, created.stdout + created.stderr);
    const { id } = JSON.parse(created.stdout);
    // One writer at a time: SQLite answers "database is locked" to concurrent writers.
    const paused = await runMain(["pause"], env, dir);
    const [shown, badDays] = await Promise.all([
      runMain(["webhooks", "show", id, "--json"], env, dir),
      runMain(["purge", "--older-than-days", "-1"], env, dir),
    ]);
    const purged = await runMain(["purge", "--older-than-days", "1"], env, dir);
    assert.equal(paused.stdout.trim(), "delivery paused for every destination");
    assert.equal(JSON.parse(shown.stdout).name, "team");
    assert.equal(purged.stdout.trim(), "purged 0 messages older than 1 days");
    assert.equal(badDays.code, 64);
    const store = await openKvStore(env.RELAY_STORE);
    try {
      assert.equal((await store.getPause()).all, true);
      assert.equal((await store.getSubscription(id))?.name, "team");
    } finally {
      await store.close();
    }
    const resumed = await runMain(["resume", "--json"], env, dir);
    const deleted = await runMain(["webhooks", "delete", id], env, dir);
    assert.equal(JSON.parse(resumed.stdout).paused, false);
    assert.equal(deleted.code, 0, deleted.stderr);
  });
});

Deno.test("cli: check-config --online asks Slack's auth.test and says what it cannot check", async () => {
  await using slack = startStub(() => Response.json({ ok: true, team: "Acme", user: "relay" }));
  await withTempDir(async (dir) => {
    const env = {
      SLACK_BOT_TOKEN: "xoxb-test-token-1",
      SLACK_API_URL: slack.url,
      WEBHOOK_URL: "http://127.0.0.1:9/hook",
    };
    const good = await runMain(["check-config", "--online"], env, dir);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(
      good.stdout,
      /destination slack .*\n {2}online: ok: Slack accepted the token \(workspace Acme, bot relay\)/,
    );
    assert.match(good.stdout, /destination platformx .*\n {2}online: not checked: dry run/);
    assert.match(
      good.stdout,
      /destination webhook .*\n {2}online: not checked: no online check for webhook/,
    );
    assert.equal(slack.seen.length, 1);
    assert.equal(slack.seen[0].path, "/auth.test");
    assert.equal(slack.seen[0].headers.get("authorization"), "Bearer xoxb-test-token-1");
    assert.ok(!good.stdout.includes("xoxb-test-token-1"), "the token is not printed");
    slack.handler = () => Response.json({ ok: false, error: "invalid_auth" });
    const bad = await runMain(["check-config", "--online", "--json"], env, dir);
    assert.equal(bad.code, 1);
    const report = JSON.parse(bad.stdout);
    assert.equal(report.ok, false);
    const byId = Object.fromEntries(
      report.destinations.map((d: { id: string; online: unknown }) => [d.id, d.online]),
    );
    assert.deepEqual(byId.slack, { ok: false, detail: "Slack refused the token: invalid_auth" });
    assert.equal(byId.webhook.ok, null);
  });
});

Deno.test("cli: placeholder values stop check-config and serve with the variable named (78)", async () => {
  await withTempDir(async (dir) => {
    const env = { SLACK_BOT_TOKEN: "xoxb-…", RELAY_STORE: ":memory:", PORT: "0" };
    const [check, serve, json] = await Promise.all([
      runMain(["check-config"], env, dir),
      runMain(["serve"], env, dir),
      runMain(["check-config", "--json"], { GETDX_API_KEY: "changeme" }, dir),
    ]);
    for (const run of [check, serve]) {
      assert.equal(run.code, 78);
      assert.match(run.stderr, /SLACK_BOT_TOKEN: looks like a placeholder/);
      assert.ok(!run.stderr.includes("at "), "no stack trace");
    }
    assert.equal(json.code, 78);
    assert.equal(JSON.parse(json.stdout).error, "config");
    assert.match(JSON.parse(json.stdout).message, /GETDX_API_KEY: looks like a placeholder/);
  });
});

const hasScript = await Deno.stat("/usr/bin/script").then(() => true, () => false);

Deno.test({
  name: "cli: retry --wait draws a progress bar on a terminal",
  ignore: !hasScript,
  async fn() {
    await using px = startStub(() => new Response("nope", { status: 422 }));
    await withTempDir(async (dir) => {
      const env = { GETDX_API_KEY: "k", GETDX_API_URL: px.url, RELAY_STORE: `${dir}/relay.kv` };
      const failed = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
      {
        await using relay = await startRelay(testConfig(env));
        await relay.post(failed);
        await waitForDelivery(relay.app.store, failed.msg_id, "permanent_failure");
      }
      const main = new URL("../main.ts", import.meta.url).pathname;
      const args = [Deno.execPath(), "run", "-A", main, "messages", "retry", "--failed"];
      args.push("--destination", "platformx", "--wait", "--timeout", "1s");
      // util-linux script(1) gives the command a pseudo-terminal, as an operator's shell would.
      const out = await new Deno.Command("/usr/bin/script", {
        args: ["-qec", args.map((a) => `'${a}'`).join(" "), "/dev/null"],
        cwd: dir,
        env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...env },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 1, text);
      assert.match(text, /\r\[-{24}\] 0\/1 final: 0 sent, 0 failed\r?\n/, "redrawn in place");
      assert.match(text, /1 still open when the wait ended/);
    });
  },
});
