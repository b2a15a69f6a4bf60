#!/usr/bin/env bash
# Fuzzes the server's OpenAPI document with schemathesis for a bounded time:
# no 5xx, no response outside its schema, status code or content type.
# (Requests the schema cannot tell are invalid, like afterTimestamp after
# beforeTimestamp, are rejected with 400s: positive_data_acceptance is off.)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check schemathesis >/dev/null 2>&1 || python3 -m pip install -q schemathesis
port=18765
./target/release/mwindex-server --listen "127.0.0.1:$port" --demo-windows 20000 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz')" 2>/dev/null && break
  sleep 0.2
done
timeout 240 python3 -m schemathesis.cli run "http://127.0.0.1:$port/openapi.json" \
  --checks all --exclude-checks positive_data_acceptance \
  -H 'Authorization: Bearer demo-voltway-parent' \
  --max-examples 800 --seed 1
