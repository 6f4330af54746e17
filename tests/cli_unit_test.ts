import assert from "node:assert/strict";
import { redactUrl, remoteClient } from "../src/cli/client.ts";
import { UsageError } from "../src/cli/common.ts";
import { parseDuration, progressLine } from "../src/cli/wait.ts";

Deno.test("cli: --timeout durations", () => {
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("30"), 30_000, "bare numbers are seconds");
  assert.equal(parseDuration("1.5m"), 90_000);
  for (const bad of ["", "5 minutes", "-1s", "m"]) {
    assert.throws(() => parseDuration(bad), UsageError, bad);
  }
});

Deno.test("cli: the progress bar fills with the final deliveries", () => {
  assert.equal(progressLine(0, 4, 0, 0), `[${"-".repeat(24)}] 0/4 final: 0 sent, 0 failed`);
  assert.equal(
    progressLine(1, 4, 1, 0),
    `[${"#".repeat(6)}${"-".repeat(18)}] 1/4 final: 1 sent, 0 failed`,
  );
  assert.equal(progressLine(4, 4, 3, 1), `[${"#".repeat(24)}] 4/4 final: 3 sent, 1 failed`);
  assert.equal(progressLine(0, 0, 0, 0), `[${"#".repeat(24)}] 0/0 final: 0 sent, 0 failed`);
});

Deno.test("cli: URL credentials never reach a message", () => {
  assert.equal(
    redactUrl("https://ops:s3cret@relay.example.com/x"),
    "https://***@relay.example.com/x",
  );
  assert.equal(
    redactUrl("cannot reach postgres://u:p%23w@db:5432/r and http://t@h/"),
    "cannot reach postgres://***@db:5432/r and http://***@h/",
  );
  assert.equal(redactUrl("http://relay:8080/api/v1"), "http://relay:8080/api/v1");
  assert.equal(redactUrl("bad http://u:pa#s/s@rd@h:1/x"), "bad http://***@h:1/x");
});

Deno.test("cli: the remote client sends the token as a bearer and reads API errors", async () => {
  const seen: Request[] = [];
  const client = remoteClient("http://relay.test", "tok-0123456789abcdef", (input, init) => {
    const req = new Request(input as string, init);
    seen.push(req);
    return Promise.resolve(
      req.url.endsWith("/missing")
        ? Response.json({ error: "not_found", message: 'no message "missing"' }, { status: 404 })
        : req.url.endsWith("/proxy")
        ? new Response("<html>bad gateway</html>", { status: 502 })
        : Response.json({ ok: true }),
    );
  });
  assert.deepEqual(await client.call("POST", "/pause", {}), { ok: true });
  assert.equal(seen[0].url, "http://relay.test/api/v1/pause");
  assert.equal(seen[0].headers.get("authorization"), "Bearer tok-0123456789abcdef");
  assert.equal(seen[0].headers.get("content-type"), "application/json");
  await assert.rejects(client.call("GET", "/messages/missing"), (err: Error) => {
    assert.equal((err as unknown as { code: string }).code, "not_found");
    assert.equal(err.message, 'no message "missing"');
    return true;
  });
  await assert.rejects(client.call("GET", "/proxy"), /http:\/\/relay\.test answered HTTP 502/);
});
