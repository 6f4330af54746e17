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
