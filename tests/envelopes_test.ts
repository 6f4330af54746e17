import assert from "node:assert/strict";
import { createEnvelopeCache } from "../src/delivery/envelopes.ts";
import { golden } from "./helpers/stubs.ts";

Deno.test("envelopes: a message is read and parsed once for all its sends", async () => {
  const stored = await golden("TemplateWorkspaceCreated.json", {}, "m1");
  const reads: string[] = [];
  const store = {
    getBody(msgId: string) {
      reads.push(msgId);
      return Promise.resolve(
        msgId === "m1" ? new TextEncoder().encode(JSON.stringify(stored)) : null,
      );
    },
  };
  const cache = createEnvelopeCache(store, 2);
  const [a, b] = await Promise.all([cache.get("m1"), cache.get("m1")]);
  assert.equal(a?.envelope.msg_id, "m1");
  assert.equal(a, b, "one parse shared");
  assert.deepEqual(reads, ["m1"]);
  assert.equal(await cache.get("gone"), undefined);
  assert.equal(await cache.get("gone"), undefined);
  assert.deepEqual(reads, ["m1", "gone", "gone"], "a missing body is read again next time");

  const accepted = await golden("TemplateWorkspaceCreated.json", {}, "m2");
  const message = { envelope: accepted, text: JSON.stringify(accepted) };
  cache.set(message);
  assert.equal(await cache.get("m2"), message, "an accepted message is not read back");
  const m3 = await golden("TemplateWorkspaceCreated.json", {}, "m3");
  cache.set({ envelope: m3, text: JSON.stringify(m3) });
  await cache.get("m1");
  assert.deepEqual(reads.slice(3), ["m1"], "bounded: the oldest went first");
});
