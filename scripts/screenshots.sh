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
# A control layer (a scribbled house) in use; ControlNet needs an SD model, and the only ones here are the tiny
# random-weight checkpoints of the golden cases, so the picture is noise: the screenshot shows the layer and its panel.
golden="$here/../shared/golden"
if [ -d "$golden/tiny_controlnet" ]; then
    python3 - "$tmp/house.ppm" <<'PY'
import sys
w = h = 64
px = [[(0, 0, 0)] * w for _ in range(h)]
def line(x0, y0, x1, y1):
    n = max(abs(x1 - x0), abs(y1 - y0)) * 2 + 1
    for i in range(n + 1):
        x, y = round(x0 + (x1 - x0) * i / n), round(y0 + (y1 - y0) * i / n)
        for dx in (0, 1):
            for dy in (0, 1):
                if 0 <= x + dx < w and 0 <= y + dy < h:
                    px[y + dy][x + dx] = (255, 255, 255)
for l in [(14, 30, 14, 56), (50, 30, 50, 56), (14, 56, 50, 56), (14, 30, 50, 30), (10, 32, 32, 10), (32, 10, 54, 32),
          (28, 56, 28, 42), (36, 56, 36, 42), (28, 42, 36, 42)]:
    line(*l)
with open(sys.argv[1], "wb") as f:
    f.write(b"P6\n%d %d\n255\n" % (w, h))
    f.write(bytes(c for row in px for p in row for c in p))
PY
    run --model "$golden/tiny_sd1/weights.safetensors" --config "$golden/tiny_sd1/case.json" --vocab "$here/../shared/data/clip" \
        --control-layer "$golden/tiny_controlnet/weights.safetensors,$tmp/house.ppm" --size 64x64 --prompt "a house" \
        --screenshot "$out/control-layer.png"
fi
cp "$out/txt2img.png" "$out/main-window.png" # the README's picture
ls -la "$out"/{txt2img,inpaint,layout,upscale,live,outpaint}.png
