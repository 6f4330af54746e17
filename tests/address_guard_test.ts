import assert from "node:assert/strict";
import {
  checkAddress,
  classify,
  EMPTY_ALLOWLIST,
  parseAllowlist,
  parseIp,
} from "../src/net/address_guard.ts";

// Decisions as pure data: nothing here opens a connection.
const cases: [string, string | undefined][] = [
  ["127.0.0.1", "loopback"],
  ["127.1", "loopback"],
  ["2130706433", "loopback"],
  ["0x7f.1", "loopback"],
  ["0177.0.0.1", "loopback"],
  ["0x7f000001", "loopback"],
  ["::1", "loopback"],
  ["[::1]", "loopback"],
  ["::ffff:127.0.0.1", "loopback"],
  ["[::ffff:7f00:1]", "loopback"],
  ["169.254.169.254", "link-local"],
  ["fe80::1", "link-local"],
  ["10.0.0.1", "private"],
  ["172.16.5.4", "private"],
  ["172.31.255.255", "private"],
  ["192.168.1.1", "private"],
  ["fc00::1", "private"],
  ["fd12:3456::1", "private"],
  ["::ffff:10.1.2.3", "private"],
  ["0.0.0.0", "unspecified"],
  ["0", "unspecified"],
  ["::", "unspecified"],
  ["224.0.0.1", "multicast"],
  ["ff02::1", "multicast"],
  ["100.64.0.1", "shared (CGNAT)"],
  ["100.127.255.255", "shared (CGNAT)"],
  ["255.255.255.255", "broadcast"],
  ["64:ff9b::7f00:1", "loopback"],
  ["8.8.8.8", undefined],
  ["172.32.0.1", undefined],
  ["100.128.0.1", undefined],
  ["2606:4700::1111", undefined],
  ["::ffff:8.8.8.8", undefined],
];

Deno.test("address guard: every spelling of a private address is classified", () => {
  for (const [text, category] of cases) {
    const ip = parseIp(text);
    assert.ok(ip, `${text} parses`);
    assert.equal(classify(ip), category, text);
  }
});

Deno.test("address guard: the WHATWG URL parser normalises odd IPv4 forms as the guard does", () => {
  for (const host of ["2130706433", "0x7f.1", "0177.0.0.1", "127.1"]) {
    assert.equal(new URL(`http://${host}/`).hostname, "127.0.0.1");
    assert.equal(parseIp(host)?.value, parseIp("127.0.0.1")?.value);
  }
  assert.equal(parseIp("example.com"), undefined);
  assert.equal(parseIp("1.2.3.4.5"), undefined);
});

Deno.test("address guard: blocked by default, allowed by CIDR or host name", () => {
  const denied = checkAddress("127.0.0.1", "localhost", EMPTY_ALLOWLIST);
  assert.equal(denied.allowed, false);
  assert.match(
    !denied.allowed ? denied.reason : "",
    /localhost \(127\.0\.0\.1\) is a loopback.*RELAY_ALLOW_PRIVATE_DESTINATIONS/,
  );
  assert.equal(checkAddress("8.8.8.8", "dns.google", EMPTY_ALLOWLIST).allowed, true);
  const allow = parseAllowlist(" 10.0.0.0/8, fd00::/8 , Internal.Example.COM., 127.0.0.1 ");
  assert.equal(checkAddress("10.9.8.7", "x", allow).allowed, true);
  assert.equal(checkAddress("fd00::5", "x", allow).allowed, true);
  assert.equal(checkAddress("192.168.0.1", "internal.example.com", allow).allowed, true);
  assert.equal(checkAddress("127.0.0.1", "127.0.0.1", allow).allowed, true);
  assert.equal(checkAddress("127.0.0.2", "127.0.0.2", allow).allowed, false);
  assert.equal(checkAddress("192.168.0.1", "other.example.com", allow).allowed, false);
  assert.equal(checkAddress("169.254.169.254", "x", allow).allowed, false);
});

Deno.test("address guard: an invalid allowlist entry is named", () => {
  for (const bad of ["10.0.0.0/33", "not a host", "1.2.3.4/x", "::1/129", "http://x"]) {
    assert.throws(
      () => parseAllowlist(bad),
      new RegExp(bad.replace(/[/.*]/g, "\\$&").split(" ")[0]),
    );
  }
  assert.deepEqual(parseAllowlist(""), EMPTY_ALLOWLIST);
  assert.deepEqual(parseAllowlist(undefined), EMPTY_ALLOWLIST);
});
