#!/usr/bin/env bash
# Trains the bundled default model family from scratch on the CPU (or --device cuda) and bundles it into
# resources/models: exactly the commands behind resources/models/MODEL_CARD.md. Each stage is seeded and resumable;
# a finished stage is skipped when run again (its progress.json says so).
# Usage: scripts/train-bundled.sh [WORK_DIR] [extra train options, e.g. --device cuda]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/out/train}"
shift || true
cli="$here/build/app/latent-cli"
[[ -x "$cli" ]] || "$here/scripts/setup.sh" "$here/build"
stage() { # stage STEPS [options]: run unless the stage already reached STEPS
    local name=$1 steps=$2
    shift 2
    local done=0
    [[ -f "$out/$name/progress.json" ]] && done=$(sed -n 's/.*"step": *\([0-9]*\).*/\1/p' "$out/$name/progress.json")
    if (( done >= steps )); then echo "$name: already at step $done"; return; fi
    "$cli" train "$name" --out "$out" --steps "$steps" --resume "$@"
}
# Autoencoder: 1200 steps at 1e-3, then to 2800 at 5e-4, then to 3200 at 1.5e-4 (batch 16).
stage autoencoder 1200 "$@"
stage autoencoder 2800 --lr 5e-4 "$@"
stage autoencoder 3200 --lr 1.5e-4 "$@"
# Text-and-layout diffusion model and 4x super-resolution model on cached latents of 32768 training scenes (batch 32).
stage diffusion 3800 "$@"
stage sr 3000 "$@"
"$cli" train bundle --out "$out" --bundle-to "$here/resources/models"
