import assert from "node:assert/strict";
import { ConfigError, ENV_VARS, parseConfig, readDotEnv } from "../src/config.ts";
import { matchesFilter } from "../src/coder.ts";
import { CLI_ENV_VARS } from "../src/cli/client.ts";

Deno.test("config: defaults match the Python middleware and the README", () => {
  const c = parseConfig({});
  assert.equal(c.logLevel, "info");
  assert.equal(c.port, 8080);
  assert.equal(c.store, "./data/relay.kv");
  assert.equal(c.maxBodyBytes, 1024 * 1024);
  assert.equal(c.platformx.apiKey, undefined);
  assert.equal(c.platformx.apiUrl, "https://api.getdx.com");
  for (
    const name of [
      "Workspace Created",
      "Workspace Manually Updated",
      "User Account Created",
      "User account suspended",
      "User Account Activated",
    ]
  ) assert.ok(matchesFilter(c.eventsTracked, name), name);
  assert.ok(!matchesFilter(c.eventsTracked, "Workspace Deleted"));
  assert.equal(c.delivery.retentionMs, 7 * 86_400_000);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.delivery));
});

Deno.test("config: a wrong value names the variable; secrets are not echoed", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { LOG_LEVEL: "verbose" },
      /LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR \(got "verbose"\)/,
    ],
    [{ PORT: "http" }, /PORT: expected a whole number/],
    [{ PORT: "70000" }, /PORT: must be at most 65535/],
    [{ GETDX_API_URL: "ftp://x" }, /GETDX_API_URL: expected an http\(s\) URL/],
    [
      { RELAY_RETRY_MIN_MS: "5000", RELAY_RETRY_MAX_MS: "10" },
      /RELAY_RETRY_MAX_MS: must not be below/,
    ],
    [{ RELAY_MAX_ATTEMPTS: "0" }, /RELAY_MAX_ATTEMPTS: must be at least 1/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => parseConfig(env), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, message);
      return true;
    });
  }
  assert.throws(
    () => parseConfig({ CODER_URL: "nope", GETDX_API_KEY: "secret-key" }),
    (e: Error) => !e.message.includes("secret-key"),
  );
});

Deno.test("config: LOG_LEVEL is case-insensitive, empty values mean default", () => {
  assert.equal(parseConfig({ LOG_LEVEL: "warning" }).logLevel, "warning");
  assert.equal(parseConfig({ PORT: "", GETDX_API_KEY: "" }).port, 8080);
  assert.equal(parseConfig({ GETDX_API_KEY: "  " }).platformx.apiKey, undefined);
});

Deno.test("config: .env files parse like python-dotenv; the environment wins", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(
      path,
      '# comment\nexport LOG_LEVEL=DEBUG\nEVENTS_TRACKED="Workspace Created, Workspace Deleted"\n' +
        "PORT=9000 # inline\nGETDX_API_KEY='k=1'\n",
    );
    const env = await readDotEnv(path);
    assert.deepEqual(env, {
      LOG_LEVEL: "DEBUG",
      EVENTS_TRACKED: "Workspace Created, Workspace Deleted",
      PORT: "9000",
      GETDX_API_KEY: "k=1",
    });
    assert.equal(parseConfig({ ...env, PORT: "9001" }).port, 9001);
    assert.deepEqual(await readDotEnv(`${path}.missing`), {});
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("config: the README's table lists every variable the code reads", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const names = [...ENV_VARS, ...CLI_ENV_VARS];
  for (const name of names) assert.ok(readme.includes(`| \`${name}\``), `${name} in README`);
  const sample = await Deno.readTextFile(new URL("../.env.sample", import.meta.url));
  for (const name of names) assert.ok(sample.includes(`${name}=`), `${name} in .env.sample`);
});

Deno.test("config: placeholder values copied from an example are refused, naming the variable", () => {
  const cases: [Record<string, string>, string][] = [
    [{ SLACK_BOT_TOKEN: "xoxb-…" }, "SLACK_BOT_TOKEN"],
    [{ SLACK_BOT_TOKEN: "xoxb-..." }, "SLACK_BOT_TOKEN"],
    [{ GETDX_API_KEY: "changeme" }, "GETDX_API_KEY"],
    [{ RELAY_ADMIN_TOKEN: "<admin token here>" }, "RELAY_ADMIN_TOKEN"],
    [{ WEBHOOK_SECRET: "whsec_..." }, "WEBHOOK_SECRET"],
    [{ CODER_URL: "https://coder.example.com/..." }, "CODER_URL"],
  ];
  for (const [env, name] of cases) {
    assert.throws(() => parseConfig(env), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, new RegExp(`${name}: looks like a placeholder`));
      assert.ok(!err.message.includes("xoxb"), "the value is not echoed");
      // One line per variable: the schema's own complaint about it is not repeated.
      assert.equal(err.message.split(name).length - 1, 1, err.message);
      return true;
    });
  }
  // Real values that merely contain dots or angle brackets somewhere are fine.
  const ok = parseConfig({
    GETDX_API_KEY: "dx.key.with.dots",
    SLACK_USERNAME: "Coder <bot>",
    RELAY_STORE: "../data/relay.kv",
  });
  assert.equal(ok.platformx.apiKey, "dx.key.with.dots");
});

Deno.test("config: RELAY_ALLOW_PRIVATE_DESTINATIONS entries are checked, the variable named", () => {
  assert.throws(
    () => parseConfig({ RELAY_ALLOW_PRIVATE_DESTINATIONS: "10.0.0.0/8, 300.1.2.3/40" }),
    /RELAY_ALLOW_PRIVATE_DESTINATIONS: "300\.1\.2\.3\/40" is neither/,
  );
  const c = parseConfig({ RELAY_ALLOW_PRIVATE_DESTINATIONS: "10.0.0.0/8,hooks.internal" });
  assert.deepEqual(c.allowPrivateDestinations.hosts, ["hooks.internal"]);
  assert.equal(parseConfig({}).allowPrivateDestinations.ranges.length, 0);
});
