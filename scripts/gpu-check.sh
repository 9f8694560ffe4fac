#!/usr/bin/env bash
# One prepared run on a GPU machine that has PyTorch (its libtorch and CMake config inside the Python package), CUDA,
# cmake and ninja, and nothing else (docs/gpu.md). Two halves:
#
#   scripts/gpu-check.sh --prepare     here, on the project machine: copies the header-only dependencies (nlohmann-json,
#                                      CLI11) into .gpu-deps/ (git-ignored through .git/info/exclude) for the run
#   scripts/gpu-check.sh [OUT_DIR]     there: configures core/ and latent-cli against PyTorch's libtorch (libzip,
#                                      utf8proc, zlib, OpenSSL used where found, built-in replacements otherwise),
#                                      builds with every compile error collected (ninja -k 0), then benchmarks SD1 at
#                                      512x512 on CUDA in fp16, bf16 and fp32 and times training steps of the bundled
#                                      family, generates on CUDA. OUT_DIR (default $OUT) gets summary.txt and
#                                      logs.tgz (build.log, golden, bench-*.json, generation outputs, train-*.log).
#
# With the device tool: run(command="scripts/gpu-check.sh", carry=[".gpu-deps"], timeout_s=540).
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

if [[ "${1:-}" == "--prepare" ]]; then
    set -e
    mkdir -p .gpu-deps/include
    cp -r /usr/include/nlohmann /usr/include/CLI .gpu-deps/include/
    # The golden cases that fit the 64 MiB a device call carries (the two 25 MB tiny SD1 checkpoints and the cases
    # built on them stay behind; the CLIP vocabulary goes with the tokenizer cases, as ../shared/data does not travel).
    rm -rf .gpu-deps/golden .gpu-deps/data
    mkdir -p .gpu-deps/golden .gpu-deps/data
    shared="$here/../shared"
    # tiny_sd1 (25 MB) and every case of at most 1 MB that uses no other case's files than tiny_sd1's.
    cp -r "$shared/golden/tiny_sd1" .gpu-deps/golden/
    for d in "$shared"/golden/*/; do
        [[ -f "$d/case.json" ]] || continue
        refs=$(grep -o '"\.\./[A-Za-z0-9_]*' "$d/case.json" | sed 's|"\.\./||' | sort -u | grep -v '^tiny_sd1$' || true)
        [[ -z "$refs" ]] && (( $(du -sm "$d" | cut -f1) <= 1 )) && cp -r "$d" .gpu-deps/golden/
    done
    cp -r "$shared/data/clip" .gpu-deps/data/
    grep -qxF '/.gpu-deps/' .git/info/exclude 2>/dev/null || echo '/.gpu-deps/' >> .git/info/exclude
    du -sh .gpu-deps
    exit 0
fi

# The device tool returns at most 8 files from $OUT: summary.txt there, every other log in logs/ packed into
# logs.tgz after each phase (so a run stopped at its limit still returns what it had).
dest="${1:-${OUT:-$here/out/gpu-check}}"
mkdir -p "$dest"
out="$here/build-gpu-logs"
rm -rf "$out"
mkdir -p "$out"
summary="$dest/summary.txt"
pack() { tar czf "$dest/logs.tgz" -C "$out" . 2>/dev/null; }
log() { echo "$*" | tee -a "$summary"; }
: > "$summary"
start=$(date +%s)
log "gpu-check $(git rev-parse --short HEAD 2>/dev/null) $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$summary"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cxx11abi", torch._C._GLIBCXX_USE_CXX11_ABI)' 2>&1 | tee -a "$summary"
torch_dir=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "share/cmake/Torch"))')
extra=()
[[ -d .gpu-deps/include ]] && extra+=("-DLS_EXTRA_INCLUDE=$here/.gpu-deps/include")

# CUDA's own CMake config inside PyTorch looks for nvcc; the pip CUDA toolkit lives in site-packages when no system one.
if ! command -v nvcc >/dev/null; then
    nv=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__file__))' 2>/dev/null)
    for d in "$nv"/cu*/bin "$nv"/cuda_nvcc/bin; do [[ -x "$d/nvcc" ]] && export PATH="$d:$PATH"; done
fi
configure() { # LS_ACCEL value
    cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir" -DLS_BUILD_UI=OFF \
        -DLS_WITH_OIIO=OFF -DLS_BUILD_TESTS=OFF -DLS_TCMALLOC=OFF -DLS_ACCEL="$1" "${extra[@]}" > "$out/configure-$1.log" 2>&1
    log "configure LS_ACCEL=$1: rc=$? ($(($(date +%s) - start)) s)"
}
configure ON
grep -E "Warning|Error|without|CUDA" -A2 "$out/configure-ON.log" | head -40 >> "$summary"
timeout 330 cmake --build build-gpu --target latent-cli -- -k 0 > "$out/build.log" 2>&1
rc=$?
log "build: rc=$rc ($(($(date +%s) - start)) s); first errors:"
grep -E "error:|Error " "$out/build.log" | sort | uniq | head -40 >> "$summary"
pack
cli=build-gpu/app/latent-cli
if [[ ! -x "$cli" ]]; then
    # The fast paths (core/models/Accel.cpp alone) off: only that file recompiles.
    configure OFF
    timeout 120 cmake --build build-gpu --target latent-cli -- -k 0 > "$out/build-accel-off.log" 2>&1
    log "build without LS_ACCEL: rc=$? ($(($(date +%s) - start)) s)"
    grep -E "error:|Error " "$out/build-accel-off.log" | sort | uniq | head -20 >> "$summary"
    pack
fi
if [[ ! -x "$cli" ]]; then
    log "no latent-cli: see build.log"
    exit 1
fi

vocab=.gpu-deps/data/clip/bpe_simple_vocab_16e6.txt.gz
vocabArgs=()
[[ -f "$vocab" ]] && vocabArgs=(--vocab "$vocab")
bench() { # NAME TIMEOUT ARGS...
    local name=$1 limit=$2
    shift 2
    timeout "$limit" "$cli" bench --random sd1_v1_inference --device cuda --file-dtype fp16 "${vocabArgs[@]}" "$@" --json \
        > "$out/bench-$name.json" 2> "$out/bench-$name.err"
    log "bench $name rc=$? $(tr -d '\n' < "$out/bench-$name.json" | sed 's/"variants".*//' | head -c 900)"
    tail -3 "$out/bench-$name.err" >> "$summary"
    # One line per fast-path combination: attention, graphs, channels-last, native group norm, it/s, deviation.
    python3 -c 'import json,sys
for v in json.load(open(sys.argv[1])).get("variants", []):
    print("  variant %-7s graphs=%-5s cl=%-5s gn=%-5s %7.1f it/s  max|diff| %.3g (ref max %.3g) %s" % (v["attention"], v["cuda_graphs"], v["channels_last"], v["native_group_norm"], v.get("it_per_s", 0), v.get("max_abs_diff", -1), v.get("reference_abs_max", -1), v.get("error", "")))' \
        "$out/bench-$name.json" >> "$summary" 2>&1
    pack
}
# The numbers that matter most first (the run may be stopped at its limit): SD1 512x512 fp16 with the defaults (SDPA,
# CUDA graphs) and every fast-path combination timed and checked against the portable eager path.
bench fp16-512 150 --dtype fp16 --size 512x512 --steps 30 --variants

# Parity on the GPU: the golden cases small enough to travel, fp32 with TF32 off; with the default attention (SDPA on
# CUDA) and with the chunked kernel.
if [[ -d .gpu-deps/golden ]]; then
    for att in auto chunked; do
        NVIDIA_TF32_OVERRIDE=0 LS_ATTENTION=$att timeout 90 "$cli" golden --device cuda .gpu-deps/golden > "$out/golden-cuda-$att.log" 2>&1
        log "golden cuda attention=$att rc=$? $(tail -1 "$out/golden-cuda-$att.log")"
        grep FAIL "$out/golden-cuda-$att.log" | head -20 >> "$summary"
    done
    pack
fi

# Generation on CUDA: the bundled model on the GPU against the CPU (same seed; fp32 with TF32 off should agree to a
# few levels), with and without CUDA graphs (the images come back in logs.tgz to compare), then SD1 with random weights
# at 512x512 in fp16.
gen() { # NAME ARGS...
    local name=$1
    shift
    timeout 90 "$cli" generate --seed 7 --steps 20 --json -o "$out/$name.png" "$@" > "$out/$name.json" 2> "$out/$name.err"
    log "generate $name rc=$? $(tr -d '\n' < "$out/$name.json" | head -c 300) $(tail -1 "$out/$name.err")"
}
NVIDIA_TF32_OVERRIDE=0 gen bundled-cuda --prompt "a large red circle at the top left" --device cuda
NVIDIA_TF32_OVERRIDE=0 LS_CUDA_GRAPHS=0 LS_ATTENTION=chunked gen bundled-cuda-eager --prompt "a large red circle at the top left" --device cuda
gen bundled-cpu --prompt "a large red circle at the top left" --device cpu
gen bundled-cuda-fp16 --prompt "a large red circle at the top left" --device cuda --dtype fp16
gen sd1-cuda-fp16 --model "$HOME/.cache/latent-studio/random-v2-sd1_v1_inference-fp16.safetensors" \
    "${vocabArgs[@]}" --prompt "a photograph of an astronaut riding a horse" --width 512 --height 512 --device cuda --dtype fp16
pack

bench bf16-512 60 --dtype bf16 --size 512x512 --steps 20
bench fp32-512 60 --dtype fp32 --size 512x512 --steps 10
bench fp16-1024 90 --dtype fp16 --size 1024x1024 --steps 5
bench fp16-512-b4 60 --dtype fp16 --size 512x512 --steps 10 --batch 4

work=$(mktemp -d)
timeout 60 "$cli" train autoencoder --out "$work" --steps 300 --device cuda > "$out/train-autoencoder.log" 2>&1
log "train autoencoder rc=$? $(grep -o 'step 300/300.*' "$out/train-autoencoder.log" | tail -1)"
timeout 60 "$cli" train diffusion --out "$work" --steps 300 --dataset 4096 --device cuda > "$out/train-diffusion.log" 2>&1
log "train diffusion rc=$? $(grep -o 'step 300/300.*' "$out/train-diffusion.log" | tail -1)"
log "done in $(($(date +%s) - start)) s"
pack
