#!/usr/bin/env bash
# User-side helper: downloads the CLIP BPE vocabulary that Stable Diffusion models need and checks its SHA-256.
# (Not run by the build or the tests: the build machines have no internet.)
set -euo pipefail
dest="${1:-$HOME/.local/share/latent-studio/clip}"
url="https://github.com/openai/CLIP/raw/main/clip/bpe_simple_vocab_16e6.txt.gz"
sha="924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
mkdir -p "$dest"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
if command -v curl >/dev/null; then curl -fL "$url" -o "$tmp"; else wget -O "$tmp" "$url"; fi
echo "$sha  $tmp" | sha256sum -c -
mv "$tmp" "$dest/bpe_simple_vocab_16e6.txt.gz"
echo "installed $dest/bpe_simple_vocab_16e6.txt.gz"
