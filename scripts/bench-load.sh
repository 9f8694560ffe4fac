#!/usr/bin/env bash
# Bundled model, 64x64, 20 steps: seconds per image idle and beside one busy-looping process, with the threads adapting
# to the load (the default) and without (LS_ADAPT_THREADS=0). Usage: scripts/bench-load.sh [runs=7] [latent-cli]
set -euo pipefail
runs="${1:-7}"
cli="${2:-$(cd "$(dirname "$0")/.." && pwd)/build/app/latent-cli}"
out="$(mktemp -d)"
trap 'rm -rf "$out"; [[ -n "${busy:-}" ]] && kill "$busy" 2>/dev/null || true' EXIT
run() {
    for _ in $(seq 1 "$runs"); do
        "$cli" generate --no-hash -p "a large red circle at the top left" -W 64 -H 64 --steps 20 --seed 5 -o "$out/b.png" --json 2>/dev/null \
            | sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p'
    done | sort -n | awk '{ a[NR] = $1 } END { printf "median %.3f s (min %.3f, max %.3f)\n", a[int((NR + 1) / 2)], a[1], a[NR] }'
}
echo "idle,   adapting:     $(run)"
echo "idle,   not adapting: $(LS_ADAPT_THREADS=0 run)"
sh -c 'while :; do :; done' &
busy=$!
sleep 1
echo "loaded, adapting:     $(run)"
echo "loaded, not adapting: $(LS_ADAPT_THREADS=0 run)"
