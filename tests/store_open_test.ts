import assert from "node:assert/strict";
import { storeBackend } from "../src/store/open.ts";

Deno.test("store backend descriptor: kind, label and whether a local store exists, per RELAY_STORE", async () => {
  const pg = storeBackend("postgres://relay:secret@db.example/relay");
  assert.deepEqual([pg.kind, pg.label, pg.persistent], ["postgres", "postgres", true]);
  assert.equal(await pg.probe(), "remote", "no connection just to look");
  assert.ok(!pg.label.includes("secret"));
  const mem = storeBackend(":memory:");
  assert.deepEqual([mem.kind, mem.persistent, await mem.probe()], [":memory:", false, "absent"]);

  const dir = await Deno.makeTempDir();
  try {
    const file = storeBackend(`${dir}/sub/relay.kv`);
    assert.deepEqual([file.kind, file.label], ["kv", `${dir}/sub/relay.kv`]);
    assert.equal(await file.probe(), "absent", "probing creates nothing");
    assert.equal(await file.probe(), "absent");
    const store = await file.open({ pgPool: 1 });
    await store.close();
    assert.equal(await file.probe(), "present");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
