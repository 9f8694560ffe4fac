#!/usr/bin/env bash
# One-step set-up on a fresh Debian 12 machine: system packages, configure, build.
# Usage: scripts/setup.sh [build-dir]     (env LS_SKIP_APT=1 skips apt-get)
#        scripts/setup.sh --deps-only [extra packages...]   (packages only; used by fuzz.sh and sanitize.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
deps_only=0
extra=()
if [[ "${1:-}" == --deps-only ]]; then
    deps_only=1
    shift
    extra=("$@")
    set --
fi
build="${1:-$here/build}"
pkgs=(build-essential cmake ninja-build ccache pkg-config file clang-format
      libtorch-dev libopenblas0-pthread libopenblas0-openmp libtcmalloc-minimal4
      qt6-base-dev libopenimageio-dev libopencv-core-dev libopencv-imgproc-dev libeigen3-dev
      libcpp-httplib-dev python3 curl
      nlohmann-json3-dev libzip-dev libcli11-dev libutf8proc-dev libpcre2-dev libssl-dev libyaml-cpp-dev zlib1g-dev
      "${extra[@]}")
if [[ "${LS_SKIP_APT:-0}" != 1 ]]; then
    missing=()
    for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if ((${#missing[@]})); then
        # Root installs directly; any other user goes through sudo (asked for a password as usual).
        sudo_cmd=""
        if [[ $(id -u) != 0 ]]; then
            if ! command -v sudo >/dev/null; then
                echo "setup: these packages are missing and installing them needs root: ${missing[*]}" >&2
                echo "setup: run this script as root, or install sudo and add $(id -un) to the sudo group" >&2
                exit 1
            fi
            sudo_cmd="sudo"
        fi
        $sudo_cmd apt-get update -q
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
fi
((deps_only)) && exit 0
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)"
