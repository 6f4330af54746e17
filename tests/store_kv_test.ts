import assert from "node:assert/strict";
import { openKvStore } from "../src/store/kv.ts";
import { checkReopen, storeContract } from "./store_contract.ts";

storeContract("kv :memory:", async () => {
  const store = await openKvStore(":memory:");
  return {
    store,
    another: () => Promise.resolve(store),
    [Symbol.asyncDispose]: () => store.close(),
  };
});

// One handle per file: a Deno KV file belongs to one process. A second handle on the same file
// fails concurrent writes with "database is locked" (SQLite); several replicas need PostgreSQL.
storeContract("kv file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-kv-" });
  const store = await openKvStore(`${dir}/sub/relay.kv`);
  return {
    store,
    another: () => Promise.resolve(store),
    async [Symbol.asyncDispose]() {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});

Deno.test("kv file: everything survives close and reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-kv-" });
  try {
    const path = `${dir}/relay.kv`;
    await checkReopen(await openKvStore(path), () => openKvStore(path));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv file: a store written before the counters and indexes is indexed on open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-kv-" });
  try {
    const path = `${dir}/relay.kv`;
    const first = await openKvStore(path);
    const body = new TextEncoder().encode("{}");
    for (let i = 0; i < 5; i++) {
      await first.accept({
        msgId: `m${i}`,
        receivedAt: 1000 + i,
        name: "Workspace Created",
        body,
        destinations: [{ id: "a" }],
        dedupeWindowMs: 0,
      });
    }
    await first.close();
    // What an older relay left: no counters, no indexes.
    const kv = await Deno.openKv(path);
    for (const prefix of [["c"], ["o"], ["i"]]) {
      for await (const e of kv.list({ prefix })) await kv.delete(e.key);
    }
    await kv.delete(["ci"]);
    kv.close();
    const store = await openKvStore(path);
    try {
      assert.deepEqual((await store.queueStats()).get("a"), { depth: 5, oldestReceivedAt: 1000 });
      const page = await store.listMessages({ state: "pending" }, { limit: 2 });
      assert.deepEqual(page.items.map((m) => m.message.msgId), ["m4", "m3"]);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
