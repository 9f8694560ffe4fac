#!/usr/bin/env bash
# Set up (apt packages, configure, build) and run the whole test suite.
# Usage: scripts/test.sh [ctest args...]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/setup.sh" "$here/build"
export QT_QPA_PLATFORM=offscreen
cd "$here/build"
ctest --output-on-failure -j1 "$@"
