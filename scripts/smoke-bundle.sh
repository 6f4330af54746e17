#!/usr/bin/env bash
# Smoke test of the single-file build: the same module graph `deno compile` embeds, bundled by
# `deno task bundle` into dist/coder-relay.js (npm packages included), then started from an empty
# directory with no network imports allowed (--no-remote --no-npm), so nothing but the file itself
# can make it work. Checks /healthz (with the version), /readyz, one real Coder webhook (2xx), then
# SIGTERM and a clean exit. CI runs it because this network cannot download the compile runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
golden="$PWD/tests/fixtures/coder/TemplateWorkspaceCreated.json"
version=$(deno eval --quiet 'console.log(JSON.parse(Deno.readTextFileSync("deno.json")).version)')

deno task bundle
bundle="$PWD/dist/coder-relay.js"
work=$(mktemp -d)
port=$(deno eval --quiet 'const l = Deno.listen({ port: 0 }); console.log(l.addr.port); l.close()')
cd "$work"
RELAY_STORE=:memory: HOST=127.0.0.1 PORT="$port" \
  deno run --no-remote --no-npm --unstable-kv --allow-net --allow-env --allow-read --allow-write \
  --allow-sys=hostname,osRelease "$bundle" serve >relay.log 2>&1 &
pid=$!
fail() {
  echo "smoke-bundle: $*"
  cat relay.log
  kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
  exit 1
}

base="http://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -fs "$base/readyz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "the bundle exited before it was ready"
  sleep 0.1
done
health=$(curl -fsS "$base/healthz") || fail "GET /healthz failed"
[ "$health" = "{\"status\":\"ok\",\"version\":\"$version\"}" ] || fail "unexpected /healthz: $health"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
  --data-binary "@$golden" "$base/") || fail "POST / failed"
[[ "$code" == 2?? ]] || fail "webhook answered $code"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 0 ] || fail "exit status $status after SIGTERM"
grep -q "stopped" relay.log || fail "no clean shutdown in the log"
echo "smoke-bundle: ok ($(wc -c <"$bundle") bytes, /healthz $health, webhook $code, clean exit)"
rm -rf "$work"
