/** Issue 12 items 4 and 10: compressed bodies, clients that vanish or trickle, on a real relay. */
import assert from "node:assert/strict";
import { golden, sleep, startRelayProcess, waitFor } from "./helpers/stubs.ts";

async function rawRequest(port: number, head: string, body: Uint8Array | string = "") {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(head));
  if (body.length) {
    await conn.write(typeof body === "string" ? new TextEncoder().encode(body) : body);
  }
  return conn;
}

async function readAll(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(4096);
  let out = "";
  for (let i = 0; i < 100; i++) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    out += new TextDecoder().decode(buf.subarray(0, n));
    if (/\r\n\r\n[\s\S]*\}$/.test(out)) break;
  }
  return out;
}

Deno.test("process: gzip bodies get 415 with printable text; a vanished client logs no error; a slow body gets 408", async () => {
  await using relay = await startRelayProcess({
    RELAY_STORE: ":memory:",
    EVENTS_TRACKED: "*",
    RELAY_BODY_TIMEOUT_MS: "500",
  });
  const port = Number(new URL(relay.url).port);
  const json = JSON.stringify(await golden("TemplateWorkspaceCreated.json"));
  const gz: Uint8Array<ArrayBuffer> = new Uint8Array(
    await new Response(new Blob([json]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  for (const headers of [{ "content-encoding": "gzip" }, {}] as Record<string, string>[]) {
    const res = await fetch(`${relay.url}/`, { method: "POST", headers, body: gz });
    assert.equal(res.status, 415, JSON.stringify(headers));
    const text = await res.text();
    assert.match(text, /^[\x20-\x7e]+$/, "printable only");
  }
  // A client that announces 5000 bytes, sends 10 and goes away.
  const gone = await rawRequest(
    port,
    "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n",
    '{"msg_id":',
  );
  await sleep(50);
  gone.close();
  // A client that trickles: the body deadline answers 408.
  const slow = await rawRequest(
    port,
    "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n",
    '{"msg_id":',
  );
  const started = Date.now();
  const answer = await readAll(slow);
  slow.close();
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.ok(Date.now() - started < 3000);
  const ok = await fetch(`${relay.url}/`, { method: "POST", body: json });
  assert.equal(ok.status, 202, "still serving");
  await ok.body?.cancel();
  await waitFor(() => /body_incomplete|408/.test(relay.output()), 5000, "rejection lines");
  await relay.kill("SIGTERM");
  const out = relay.output();
  assert.ok(!/BadResource|\[ERR\]|unexpected error|internal_error/.test(out), out);
});
