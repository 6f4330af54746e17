import assert from "node:assert/strict";
import {
  createSink,
  DESTINATION_TYPES,
  destinationTypeOf,
  SECRET_FIELDS,
  TYPE_NAMES,
} from "../src/destinations/registry.ts";
import { parseConfigFile } from "../src/config_file.ts";
import { UnsupportedTypeError } from "../src/sinks/sink.ts";
import { testConfig } from "./helpers/stubs.ts";
import { sinkDepsFromConfig } from "../src/destinations/create.ts";

Deno.test("registry: one entry per type, names unique, secrets derived from the descriptors", () => {
  assert.deepEqual(TYPE_NAMES, ["platformx", "slack", "slack-webhook", "webhook", "teams"]);
  assert.equal(new Set(TYPE_NAMES).size, DESTINATION_TYPES.length);
  assert.deepEqual(SECRET_FIELDS, {
    platformx: ["api_key"],
    slack: ["token"],
    "slack-webhook": ["url"],
    webhook: ["secret", "headers"],
    teams: ["url"],
  });
  assert.equal(destinationTypeOf("teams-typo"), undefined);
});

Deno.test("registry: createSink parses with the type's schema and refuses unknown types", () => {
  const deps = sinkDepsFromConfig(testConfig(), { fetch, now: Date.now });
  const sink = createSink("webhook", { url: "http://127.0.0.1:9/hook" }, deps);
  assert.equal(sink.idempotent, true);
  assert.throws(() => createSink("webhook", { url: "ftp://x" }, deps), /http\(s\) URL/);
  assert.throws(
    () => createSink("pager", {}, deps),
    (err) =>
      err instanceof UnsupportedTypeError &&
      err.message === 'type "pager" is not available (available: ' +
          "platformx, slack, slack-webhook, webhook, teams)",
  );
});

Deno.test("registry: the config file's union is built from the registry", () => {
  assert.throws(
    () =>
      parseConfigFile(JSON.stringify({ destinations: [{ id: "x", type: "pager" }] }), new Set()),
    /expected type "platformx", "slack", "slack-webhook", "webhook", "teams"/,
  );
  const [spec] = parseConfigFile(
    JSON.stringify({
      destinations: [{
        id: "hook",
        type: "webhook",
        configuration: { url: "http://127.0.0.1:9/" },
      }],
    }),
    new Set(),
  );
  assert.deepEqual(spec.configuration, {
    url: "http://127.0.0.1:9/",
    headers: {},
    format: "coder",
    dedupe_fanout: false,
  });
});
