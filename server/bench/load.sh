#!/usr/bin/env bash
# The server under load (wrk on loopback, bounded): three typical requests
# at 1M windows, with 1 and 64 connections, with and without a writer at
# 1,000 PUT/s. Prints a markdown table.
#   bash server/bench/load.sh [windows] [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
windows=${1:-1000000}
secs=${2:-10}
port=18790
cargo build --release -p mwindex-server --example writer >/dev/null 2>&1
RUST_LOG=warn ./target/release/mwindex-server --listen "127.0.0.1:$port" --demo-windows "$windows" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; kill ${writer:-0} 2>/dev/null || true' EXIT
until python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz')" 2>/dev/null; do sleep 0.5; done
base="http://127.0.0.1:$port"
# A site of the parent's tree with windows, for the filtered request.
site=$(python3 - "$base" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/api/maintenance-windows?pageSize=1", headers={"Authorization": "Bearer demo-voltway-parent"})
print(json.load(urllib.request.urlopen(req))["data"][0]["site"]["id"])
PY
)
now=$(python3 -c "import datetime; print((datetime.datetime.now(datetime.timezone.utc)).strftime('%Y-%m-%dT%H:%M:%SZ'))")
week=$(python3 -c "import datetime; print((datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(days=7)).strftime('%Y-%m-%dT%H:%M:%SZ'))")
cat > /tmp/mwindex-load.lua <<'LUA'
wrk.headers["Authorization"] = "Bearer demo-voltway-parent"
LUA
declare -A paths=(
  ["EV list, 7 days, one site"]="/api/maintenance-windows?afterTimestamp=$now&beforeTimestamp=$week&siteIds=$site"
  ["EV list, parent key, 50 items"]="/api/maintenance-windows"
  ["incident list, status=active"]="/v1/maintenance_windows?status=active"
)
echo "| request | connections | writer | requests/s | p50 | p99 |"
echo "|---|---:|---|---:|---:|---:|"
for writer_on in no yes; do
  if [ "$writer_on" = yes ]; then
    ./target/release/examples/writer "127.0.0.1:$port" demo-voltway-parent 1000 2>/dev/null &
    writer=$!
    sleep 1
  fi
  for name in "EV list, 7 days, one site" "EV list, parent key, 50 items" "incident list, status=active"; do
    for c in 1 64; do
      out=$(wrk -t 1 -c "$c" -d "${secs}s" --latency -s /tmp/mwindex-load.lua "$base${paths[$name]}")
      rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
      p50=$(echo "$out" | awk '$1=="50%" {print $2}')
      p99=$(echo "$out" | awk '$1=="99%" {print $2}')
      label=$([ "$writer_on" = yes ] && echo "1,000 PUT/s" || echo "none")
      echo "| $name | $c | $label | $rps | $p50 | $p99 |"
    done
  done
  if [ "$writer_on" = yes ]; then kill $writer; fi
done
