#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer; CMake preset "asan", which
# also builds the unit tests for scripts/sanitize.sh) into build-fuzz and runs each
# for SECONDS (default 600). Crash inputs land in fuzz/crashes/<target>/: fix the bug, then move the input to
# fuzz/regressions/<target>/ so the normal test suite replays it forever. A summary goes to build-fuzz/fuzz-report.txt.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-600}"
shift || true
"$here/scripts/setup.sh" --deps-only clang
bdir="$here/build-fuzz"
(cd "$here" && cmake --preset asan >/dev/null)
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(safetensors ckpt pickle infotext prompt boxes config project api)
fi
ninja -C "$bdir" "${targets[@]/#/fuzz_}"
report="$bdir/fuzz-report.txt"
: > "$report"
export ASAN_OPTIONS="detect_leaks=1:alloc_dealloc_mismatch=0:detect_odr_violation=0"
export UBSAN_OPTIONS="print_stacktrace=1"
status=0
for t in "${targets[@]}"; do
    corpus="$bdir/corpus/$t"
    crashes="$here/fuzz/crashes/$t"
    mkdir -p "$corpus" "$crashes"
    log="$bdir/fuzz-$t.log"
    echo "== $t: ${secs} s"
    started=$SECONDS
    set +e
    "$bdir/fuzz/fuzz_$t" "$corpus" "$here/fuzz/seeds/$t" -max_total_time="$secs" -rss_limit_mb=4096 -max_len=65536 -timeout=20 \
        -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    ran=$((SECONDS - started))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    found=$(find "$crashes" -type f | wc -l)
    line="$t: ran ${ran} s of ${secs} s, ${runs:-?} inputs, ${cov:-cov ?}, exit $rc, crash files $found"
    echo "$line" | tee -a "$report"
    [[ $rc -ne 0 || $found -ne 0 ]] && status=1
done
echo "report: $report"
exit $status
