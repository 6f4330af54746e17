/**
 * The drain phase's yardstick (`bench/delivery.ts`): a bare loop that POSTs `COUNT` bodies to a URL
 * with `IN_FLIGHT` requests outstanding, as fast as it can. Its rate is what any sender could do
 * against the same stub on the same machine; the relay's drain rate is stated as a fraction of it.
 * Runs as its own process, like the relay it is compared with.
 *
 * Usage: `deno run --allow-net --allow-read bench/fetch_loop.ts URL COUNT IN_FLIGHT BODY_FILE`;
 * prints `BENCH_RESULT {"sent":…,"ms":…}`.
 *
 * @module
 */

if (import.meta.main) {
  const [url, count, inFlight, bodyPath] = Deno.args;
  const body = await Deno.readTextFile(bodyPath);
  let next = 0;
  let sent = 0;
  const started = performance.now();
  const loop = async () => {
    while (next < Number(count)) {
      next++;
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await res.body?.cancel();
      if (res.ok) sent++;
    }
  };
  await Promise.all(Array.from({ length: Number(inFlight) }, loop));
  const ms = performance.now() - started;
  console.log(`BENCH_RESULT ${JSON.stringify({ sent, ms })}`);
}
