#!/usr/bin/env bash
# Builds core, latent-cli and the unit tests with AddressSanitizer + UndefinedBehaviorSanitizer (CMake preset "asan",
# folder build-asan) and runs the unit suite under them.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/setup.sh" --deps-only
cd "$here"
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan
