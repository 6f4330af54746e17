import assert from "node:assert/strict";
import postgres from "postgres";
import { createTestSchema, TEST_POSTGRES_URL } from "./helpers/postgres.ts";
import {
  golden,
  type RelayProcess,
  startRelayProcess,
  startStub,
  userData,
  waitFor,
} from "./helpers/stubs.ts";

const MESSAGES = 1000;
const REPLICAS = 3;
const CONCURRENCY = 4;

if (!TEST_POSTGRES_URL) {
  Deno.test("postgres replicas: three relays on one database", () => {
    console.log("skipped the Postgres replica test: RELAY_TEST_POSTGRES_URL not set");
  });
} else {
  const baseUrl = TEST_POSTGRES_URL;

  Deno.test({
    name:
      "postgres replicas: 3 relays, 1,000 messages round-robin, one SIGKILLed mid-send: every event reaches PlatformX exactly once",
    async fn() {
      await using schema = await createTestSchema(baseUrl);

      // PlatformX counts events by subject email (one per message). Between `hold()` and
      // `release()` it keeps requests waiting after counting them, so that a replica can be killed
      // with all of its sends provably on the wire.
      const counts = new Map<string, number>();
      let holding = false;
      let held = 0;
      let release = () => {};
      let released = Promise.resolve();
      await using px = startStub(async (req) => {
        const email = JSON.parse(req.body).email as string;
        counts.set(email, (counts.get(email) ?? 0) + 1);
        if (holding) {
          held++;
          await released;
        }
        return Response.json({ ok: true });
      });

      const env = {
        RELAY_STORE: schema.url,
        RELAY_PG_POOL: "3",
        GETDX_API_URL: px.url,
        GETDX_API_KEY: "test-key",
        RELAY_POLL_MS: "100",
        RELAY_CONCURRENCY: String(CONCURRENCY),
        RELAY_SEND_TIMEOUT_MS: "3000",
        RELAY_LEASE_MS: "4000",
        RELAY_RETRY_MIN_MS: "50",
        RELAY_RETRY_MAX_MS: "500",
        LOG_LEVEL: "WARNING",
      };
      const relays: RelayProcess[] = await Promise.all(
        Array.from({ length: REPLICAS }, () => startRelayProcess(env)),
      );
      await using _stop = {
        async [Symbol.asyncDispose]() {
          for (const r of relays) await r[Symbol.asyncDispose]();
        },
      };
      const alive = new Set(relays);
      const template = await golden("TemplateUserAccountCreated.json");

      /** Posts message `i` round-robin; a replica that refuses the connection is skipped (as a load balancer would). */
      async function post(i: number): Promise<void> {
        const body = JSON.stringify({
          ...template,
          msg_id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
          payload: {
            ...template.payload,
            labels: { ...template.payload.labels, seq: String(i) },
            data: userData(`user${i}@example.com`),
          },
        });
        for (let k = 0; k < REPLICAS * 3; k++) {
          const relay = relays[(i + k) % REPLICAS];
          if (!alive.has(relay)) continue;
          try {
            const res = await fetch(relay.url, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body,
            });
            await res.body?.cancel();
            if (res.status === 202 || res.status === 200) return;
          } catch {
            // Connection refused or reset: try the next replica, as Coder's retry would.
          }
        }
        throw new Error(`message ${i} was not accepted by any replica`);
      }
      async function postRange(from: number, to: number, parallel = 8) {
        let next = from;
        await Promise.all(Array.from({ length: parallel }, async () => {
          while (next < to) await post(next++);
        }));
      }

      await postRange(0, 400);
      // Every replica now fills its CONCURRENCY slots with sends that PlatformX holds.
      holding = true;
      released = new Promise((r) => release = r);
      const posting = postRange(400, 700);
      await waitFor(() => held === REPLICAS * CONCURRENCY, 15_000, "every replica's sends held");
      const victim = relays[1];
      alive.delete(victim);
      const status = await victim.kill("SIGKILL");
      assert.equal(status.signal, "SIGKILL");
      holding = false;
      release();
      await posting;
      await postRange(700, MESSAGES);

      const sql = postgres(schema.url, { max: 1, onnotice: () => {} });
      try {
        // The victim's held sends come back when their leases expire: recorded `unknown`, not
        // resent, because PlatformX already counted them.
        const states = await waitFor(
          async () => {
            const rows = await sql<{ state: string; n: number }[]>`
            SELECT state, count(*)::int AS n FROM relay_deliveries GROUP BY state`;
            const byState = Object.fromEntries(rows.map((r) => [r.state, r.n]));
            const open = (byState.pending ?? 0) + (byState.leased ?? 0) +
              (byState.temporary_failure ?? 0);
            return open === 0 && counts.size === MESSAGES ? byState : undefined;
          },
          30_000,
          "every delivery finished",
        );
        assert.deepEqual(states, { sent: MESSAGES - CONCURRENCY, unknown: CONCURRENCY });
        const [{ n }] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM relay_messages`;
        assert.equal(n, MESSAGES);
      } finally {
        await sql.end();
      }
      for (let i = 0; i < MESSAGES; i++) {
        assert.equal(counts.get(`user${i}@example.com`), 1, `event of message ${i}`);
      }
      assert.equal(px.seen.length, MESSAGES, "no event was sent twice");
    },
  });
}
