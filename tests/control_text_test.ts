import assert from "node:assert/strict";
import { escapeControl, hasControl, oneLine } from "../src/text/control.ts";

Deno.test("escapeControl: CR, LF, ESC, BEL and C1 become visible escapes", () => {
  assert.equal(
    escapeControl("a\r\n[ERR] fake\u001b[31m\u0007\u0085z"),
    "a\\r\\n[ERR] fake\\x1b[31m\\x07\\x85z",
  );
  assert.equal(escapeControl("plain ünïcode"), "plain ünïcode");
});

Deno.test("oneLine and hasControl", () => {
  assert.equal(oneLine(" a\r\n\u001b[1mb\u0007 c "), "a b c");
  assert.equal(hasControl("ok"), false);
  assert.equal(hasControl("bad\u0007"), true);
  assert.equal(hasControl("bad\u0007"), true);
});
