#!/usr/bin/env bash
# Trains the bundled default model family from scratch on the CPU (or --device cuda) and bundles it into
# resources/models: exactly the commands behind resources/models/MODEL_CARD.md. Each stage is seeded and resumable;
# a finished stage is skipped when run again (its progress.json says so).
# Usage: scripts/train-bundled.sh [WORK_DIR] [extra train options, e.g. --device cuda]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/out/train}"
shift || true
extra=("$@")
cli="$here/build/app/latent-cli"
[[ -x "$cli" ]] || "$here/scripts/setup.sh" "$here/build"
stage() { # stage DIR NAME STEPS [options]: run unless the stage already reached STEPS
    local dir=$1 name=$2 steps=$3
    shift 3
    local done=0
    [[ -f "$dir/$name/progress.json" ]] && done=$(sed -n 's/.*"step": *\([0-9]*\).*/\1/p' "$dir/$name/progress.json")
    if (( done >= steps )); then echo "$name: already at step $done"; return; fi
    "$cli" train "$name" --out "$dir" --steps "$steps" --resume "$@"
}
# Autoencoder: 1200 steps at 1e-3, then to 2800 at 5e-4, then to 3200 at 1.5e-4 (batch 16).
stage "$out" autoencoder 1200 "${extra[@]}"
stage "$out" autoencoder 2800 --lr 5e-4 "${extra[@]}"
stage "$out" autoencoder 3200 --lr 1.5e-4 "${extra[@]}"
# Decoder fine-tuned on the frozen encoder (same latent space): latents perturbed by up to 0.2 latent std, the
# background ring around objects weighted like the objects (batch 16, lr 2e-4 cosine).
stage "$out" decoder 1500 "${extra[@]}"
# Text-and-layout diffusion model (family defaults: 7 layout channels and 2 coordinate channels beside the latent) and
# 4x super-resolution model, both on cached latents of 32768 training scenes (batch 32).
stage "$out" diffusion 3600 "${extra[@]}"
stage "$out" sr 3000 "${extra[@]}"
"$cli" train bundle --out "$out" --bundle-to "$here/resources/models"
