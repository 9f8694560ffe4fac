#!/usr/bin/env bash
# CTest golden_runner: the tokenizer case finds its vocabulary from the case's vocab_file ("shared/data/clip/...",
# looked up from the case folder upwards) or --vocab, wherever the case folder lies.
# Usage: golden_runner.sh LATENT_CLI SHARED_DIR
set -euo pipefail
cli="$1"; shared="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/work/cases/tokenizer" "$tmp/work/shared/data/clip" "$tmp/lone/tokenizer"
cp "$shared/golden/tokenizer/case.json" "$tmp/work/cases/tokenizer/"
cp "$shared/golden/tokenizer/case.json" "$tmp/lone/tokenizer/"
cp "$shared/data/clip/bpe_simple_vocab_16e6.txt.gz" "$tmp/work/shared/data/clip/"
"$cli" golden "$tmp/work/cases" | tee "$tmp/out1"
grep -q "^1 passed, 0 failed" "$tmp/out1"
if env -u LS_CLIP_VOCAB "$cli" golden "$tmp/lone" >"$tmp/out2"; then echo "passed without a vocabulary"; exit 1; fi
cat "$tmp/out2"
grep -q "vocab_file 'shared/data/clip/bpe_simple_vocab_16e6.txt.gz' not found" "$tmp/out2"
"$cli" golden "$tmp/lone" --vocab "$shared/data/clip/bpe_simple_vocab_16e6.txt.gz" | tee "$tmp/out3"
grep -q "^1 passed, 0 failed" "$tmp/out3"
