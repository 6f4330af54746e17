import { startStub, golden, workspaceData } from "../tests/helpers/stubs.ts";
await using stub = startStub();
const port = 18000 + Math.floor(Math.random() * 1000);
const dir = await Deno.makeTempDir();
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "--cpu-prof", "--cpu-prof-dir=/tmp/prof/out", "main.ts", "serve"],
  cwd: "/work/wt/perf",
  env: { RELAY_STORE: `${dir}/s.kv`, LOG_LEVEL: "WARNING", GETDX_API_KEY: "x", GETDX_API_URL: stub.url, RELAY_ADMIN_TOKEN: "tttttttttttttttttttt", PORT: String(port), HOST: "127.0.0.1" },
  clearEnv: false, stdout: "null", stderr: "inherit",
}).spawn();
const url = `http://127.0.0.1:${port}`;
for (let i = 0; i < 200; i++) { try { await (await fetch(`${url}/readyz`)).body?.cancel(); break; } catch { await new Promise((r) => setTimeout(r, 100)); } }
const H = { authorization: "Bearer tttttttttttttttttttt" };
await (await fetch(`${url}/api/v1/pause`, { method: "POST", headers: H })).body?.cancel();
const data = workspaceData("u-__ID__@example.com");
const tpl = JSON.stringify(await golden("TemplateWorkspaceCreated.json", { data: { ...data, owner: { ...data.owner, id: "__ID__" } } }, "__ID__"));
const N = 2000; let next = 0;
await Promise.all(Array.from({ length: 16 }, async () => { while (next < N) { const id = `p${next++}`; const r = await fetch(`${url}/`, { method: "POST", body: tpl.replaceAll("__ID__", id), headers: { "content-type": "application/json" } }); await r.body?.cancel(); } }));
const before = stub.seen.length; const t0 = performance.now();
await (await fetch(`${url}/api/v1/resume`, { method: "POST", headers: H })).body?.cancel();
while (stub.seen.length - before < N) await new Promise((r) => setTimeout(r, 5));
console.log("drain/s", N / ((performance.now() - t0) / 1000));
child.kill("SIGTERM"); await child.status;
