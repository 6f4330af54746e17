/**
 * The benchmark's yardstick: the least a durable webhook receiver can do in Deno. A bare
 * `Deno.serve` that parses the JSON body and makes one `kv.set` per request on a KV file, so the
 * relay's throughput can be stated as a fraction of what the same machine does in the same run.
 *
 * Started by `bench/accept.ts` like the relay: `PORT` and `RELAY_STORE` (a KV file) from the environment.
 *
 * @module
 */

if (import.meta.main) {
  const kv = await Deno.openKv(Deno.env.get("RELAY_STORE"));
  const port = Number(Deno.env.get("PORT"));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (req) => {
      if (req.method !== "POST") return Response.json({ status: "ok" });
      const body = await req.json() as { msg_id: string };
      await kv.set(["m", body.msg_id], body);
      return Response.json({ status: "accepted", msg_id: body.msg_id }, { status: 202 });
    },
  );
  Deno.addSignalListener("SIGTERM", () => server.shutdown());
  await server.finished;
  kv.close();
}
