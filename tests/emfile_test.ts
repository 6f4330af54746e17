/** Issue 12 item 4: running out of file descriptors refuses connections, then recovers. */
import assert from "node:assert/strict";
import { CONFIG, MAIN, subprocessEnv, withTempDir } from "./helpers/relay_process.ts";
import { freePort, sleep, waitFor } from "./helpers/stubs.ts";

Deno.test("process: with ulimit -n 256, 300 idle sockets do not end the relay; it answers once they close", () =>
  withTempDir(async (cwd) => {
    const port = freePort();
    // `ulimit` needs a shell: the same clean environment and temp cwd as every other subprocess.
    const child = new Deno.Command("bash", {
      args: [
        "-c",
        `ulimit -n 256; exec "${Deno.execPath()}" run -A --config "${CONFIG}" "${MAIN}" serve`,
      ],
      cwd,
      env: subprocessEnv({ RELAY_STORE: ":memory:", HOST: "127.0.0.1", PORT: String(port) }),
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]).then(([a, b]) => a + b);
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    const healthy = async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
          signal: AbortSignal.timeout(1000),
        });
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    };
    const conns: Deno.Conn[] = [];
    try {
      await waitFor(healthy, 20_000, "relay up");
      for (let i = 0; i < 300; i++) {
        try {
          conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        } catch {
          break; // refused: the relay is out of descriptors, as intended
        }
      }
      await sleep(1500);
      assert.equal(exited, false, "the relay is still running with descriptors exhausted");
      for (const c of conns.splice(0)) c.close();
      await waitFor(healthy, 10_000, "the relay to answer again");
      assert.equal(exited, false);
    } finally {
      for (const c of conns) c.close();
      if (!exited) child.kill("SIGTERM");
    }
    assert.equal((await status).code, 0);
    const out = await output;
    assert.match(out, /Too many open files.*refusing new ones/);
    assert.ok(!/Uncaught/.test(out), out);
  }));
