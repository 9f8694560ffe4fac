#!/usr/bin/env bash
# Screenshots of the desktop app in each mode with the bundled model, under Xvfb (offscreen Qt when Xvfb is missing):
# docs/images/{txt2img,inpaint,layout,upscale,live,outpaint}.png. Each one is a real generation on the canvas.
# Usage: scripts/screenshots.sh [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/docs/images}"
mkdir -p "$out"
app="$here/build/app/latent-studio"
cli="$here/build/app/latent-cli"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
run() {
    if command -v xvfb-run >/dev/null; then
        xvfb-run -a -s "-screen 0 1400x900x24" "$app" "$@"
    else
        QT_QPA_PLATFORM=offscreen "$app" "$@"
    fi
}
export XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" # a clean profile: no history, no recovery prompt
"$cli" generate --prompt "a large green triangle in the center" --seed 4 --steps 20 -o "$tmp/scene.png" >/dev/null
run --prompt "a large red circle at the top left and a small blue square at the bottom right" --screenshot "$out/txt2img.png"
run "$tmp/scene.png" --mask-rect 0,0,30,30 --prompt "a small yellow circle at the top left" --mode inpaint --guidance 2 --screenshot "$out/inpaint.png"
run --boxes "6,6,20,20,red circle;38,38,20,20,blue square" --mode layout --screenshot "$out/layout.png"
run "$tmp/scene.png" --model bundled:default-sr --screenshot "$out/upscale.png"
# Live painting: a rough sketch (a red blob, a blue block) and its live picture beside it.
python3 - "$tmp/sketch.ppm" <<'PY'
import sys
w = h = 64
with open(sys.argv[1], "wb") as f:
    f.write(b"P6\n%d %d\n255\n" % (w, h))
    for y in range(h):
        for x in range(w):
            c = (245, 245, 240)
            if (x - 18) ** 2 + (y - 18) ** 2 < 144: c = (215, 40, 40)
            if 40 <= x < 56 and 42 <= y < 58: c = (40, 70, 210)
            f.write(bytes(c))
PY
run "$tmp/sketch.ppm" --live --prompt "a large red circle at the top left and a small blue square at the bottom right" --screenshot "$out/live.png"
# Outpainting: the scene grown by 32 pixels on the right, the new area painted by the inpainting job.
run "$tmp/scene.png" --expand 0,0,32,0 --prompt "a large green triangle in the center and a small red circle at the right" --guidance 2 --screenshot "$out/outpaint.png"
cp "$out/txt2img.png" "$out/main-window.png" # the README's picture
ls -la "$out"/{txt2img,inpaint,layout,upscale,live,outpaint}.png
