import assert from "node:assert/strict";
import { createTtlCache } from "../src/ttl_cache.ts";

Deno.test("ttl cache: entries expire on their own ttl and the oldest is evicted when full", () => {
  let now = 1_000;
  const cache = createTtlCache<string>(() => now, 2);
  assert.equal(cache.set("hit", "U1", 60_000), "U1");
  cache.set("miss", "none", 5_000);
  now += 5_000;
  assert.equal(cache.get("miss"), undefined, "misses are believed for a while only");
  assert.equal(cache.get("hit"), "U1");
  cache.set("b", "U2", 60_000);
  cache.set("c", "U3", 60_000);
  assert.equal(cache.get("hit"), undefined, "evicted: the cache holds at most 2");
  assert.equal(cache.get("c"), "U3");
  now += 60_000;
  assert.equal(cache.get("c"), undefined);
});
