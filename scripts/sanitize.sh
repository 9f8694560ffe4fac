#!/usr/bin/env bash
# Builds core, latent-cli and the unit tests with clang, AddressSanitizer and UndefinedBehaviorSanitizer (CMake preset
# "asan", folder build-fuzz, shared with the libFuzzer targets of scripts/fuzz.sh) and runs the unit suite under them.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/setup.sh" --deps-only clang
cd "$here"
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan
