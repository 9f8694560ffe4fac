#!/usr/bin/env bash
# Formats every C++ source of the tree with .clang-format (Debian 12's clang-format 14, installed by setup.sh).
# Usage: scripts/format.sh          rewrite the files in place
#        scripts/format.sh --check  list the files that differ and fail (CTest "format", run by .ci/run)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
command -v clang-format >/dev/null || { echo "format: clang-format is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
# The CUDA header stand-ins mirror NVIDIA's declarations and stay as they are.
mapfile -t files < <(git ls-files '*.cpp' '*.h' 2>/dev/null | grep -v '^tests/cuda-stub/' || find app core fuzz plugins server tests ui -name '*.cpp' -o -name '*.h' | grep -v '^tests/cuda-stub/')
if [[ "${1:-}" == --check ]]; then
    bad=0
    for f in "${files[@]}"; do
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
            echo "not formatted: $f (scripts/format.sh fixes it)"
            bad=1
        fi
    done
    ((bad == 0)) && echo "format: ${#files[@]} files formatted as .clang-format says"
    exit $bad
fi
clang-format -i "${files[@]}"
