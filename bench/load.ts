/**
 * The benchmark's load generator when `wrk` is not installed: N keep-alive connections, each with one
 * request in flight, posting the template with every `__ID__` replaced by an id unique to the request.
 * Runs as its own process so that it does not share an event loop with what it measures, and prints
 * the same `BENCH_RESULT` JSON line as `bench/post.lua`.
 *
 * Usage: `deno run --allow-net --allow-read bench/load.ts URL CONNECTIONS SECONDS TEMPLATE TAG`
 *
 * @module
 */

if (import.meta.main) {
  const [url, connections, seconds, templatePath, tag] = Deno.args;
  const parts = (await Deno.readTextFile(templatePath)).split("__ID__");
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: Number(connections) });
  const latencies: number[] = [];
  let statusErrors = 0;
  let otherErrors = 0;
  const started = performance.now();
  const until = started + Number(seconds) * 1000;
  const worker = async (w: number) => {
    for (let n = 1; performance.now() < until; n++) {
      const t0 = performance.now();
      try {
        const res = await fetch(url, {
          method: "POST",
          client,
          headers: { "content-type": "application/json" },
          body: parts.join(`${tag}-${w}-${n}`),
        });
        await res.body?.cancel();
        if (res.status >= 400) statusErrors++;
        latencies.push(performance.now() - t0);
      } catch {
        otherErrors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Number(connections) }, (_, w) => worker(w + 1)));
  const durationUs = Math.round((performance.now() - started) * 1000);
  client.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(
      (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0) * 1000,
    );
  console.log(`BENCH_RESULT ${
    JSON.stringify({
      requests: latencies.length,
      durationUs,
      connectErrors: otherErrors,
      readErrors: 0,
      writeErrors: 0,
      statusErrors,
      timeouts: 0,
      p50Us: pct(0.5),
      p99Us: pct(0.99),
      maxUs: pct(1),
    })
  }`);
}
