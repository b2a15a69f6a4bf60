#!/usr/bin/env bash
# Runs every fuzz target with AddressSanitizer for as long as asked, then
# merges each corpus and prints inputs executed and coverage per target.
#   bash scripts/fuzz-long.sh [seconds per target, default 600]
#   TARGETS="shared snapshot" bash scripts/fuzz-long.sh 600   (some targets only)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=${TARGETS:-$(cargo fuzz list)}
for t in $targets; do
  echo "== $t: ${secs}s with AddressSanitizer"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=512 -malloc_limit_mb=128 \
    -print_final_stats=1 2>&1 | grep -E 'DONE|stat::number_of_executed_units|cov:|ERROR|SUMMARY' | tail -4
  RUSTC_BOOTSTRAP=1 cargo fuzz cmin "$t" >/dev/null 2>&1 || true
  echo "   corpus: $(ls "corpus/$t" | wc -l) inputs"
done
