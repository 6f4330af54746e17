import assert from "node:assert/strict";
import { maskEmails, redactText, redactUrl, summarizeAnswer } from "../src/redact.ts";

Deno.test("redactUrl: userinfo passwords and token-like query values are hidden", () => {
  assert.equal(
    redactUrl("https://bob:s3cret@hooks.example.com/in?token=abc&x=1&sig=zz"),
    "https://bob:REDACTED@hooks.example.com/in?token=REDACTED&x=1&sig=REDACTED",
  );
  assert.equal(redactUrl("https://example.com/a?b=c"), "https://example.com/a?b=c");
  assert.equal(
    redactUrl("https://tok3n@relay.example.com/"),
    "https://REDACTED@relay.example.com/",
  );
  // Unparseable: a raw # or @ in a Postgres password.
  const pg = redactUrl("postgres://relay:p#ss@w0rd@db:5432/relay?password=hunter2");
  assert.ok(!pg.includes("p#ss") && !pg.includes("w0rd") && !pg.includes("hunter2"), pg);
  const q = redactUrl("postgres://db:5432/relay?sslmode=require&password=hunter2");
  assert.ok(!q.includes("hunter2"), q);
});

Deno.test("maskEmails and redactText: emails masked, tokens hidden", () => {
  assert.equal(maskEmails("to jane.doe@example.com."), "to j***@example.com.");
  const text = redactText(
    'user a@b.co token=abc123 Authorization: Bearer eyJhbGciOi xoxb-111-222 {"password":"pw1"}',
  );
  for (const secret of ["abc123", "eyJhbGciOi", "xoxb-111", "pw1", "a@b.co"]) {
    assert.ok(!text.includes(secret), `${secret} in ${text}`);
  }
});

Deno.test("summarizeAnswer: one short printable line", () => {
  const s = summarizeAnswer("internal\r\n\u001b[31madmin\u0007 console " + "y".repeat(200));
  assert.ok(s.length <= 81, s);
  assert.match(s, /^internal admin console y+…$/);
});
