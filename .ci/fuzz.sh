#!/usr/bin/env bash
# Every fuzz target for a bounded time (30 s each) without a sanitizer, on
# stable, with a fixed seed (the same run every time: CI never flakes on
# luck). A crash fails the run and leaves its input in fuzz/artifacts.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in $(cargo fuzz list); do
  echo "-- $t"
  cargo fuzz run --sanitizer none "$t" -- -max_total_time=30 -seed=1 -rss_limit_mb=512 -malloc_limit_mb=128 2>&1 \
    | grep -E 'Done|ERROR|panicked|SUMMARY' || true
  if [ -d "artifacts/$t" ] && [ -n "$(ls -A "artifacts/$t")" ]; then
    echo "fuzz target $t found a failing input: $(ls "artifacts/$t")"
    exit 1
  fi
done
