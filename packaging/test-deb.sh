#!/usr/bin/env bash
# Package smoke test (CTest "package_deb"): builds the .deb with `cpack -G DEB` from BUILD_DIR, checks its contents,
# installs it on this machine, starts the installed `latent-studio --version` (no display needed) and makes a picture
# with the installed `latent-cli` and the bundled model it ships, then removes the package again.
# Usage: packaging/test-deb.sh BUILD_DIR
set -euo pipefail
build="$(cd "${1:?usage: test-deb.sh BUILD_DIR}" && pwd)"
sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$build" && cpack -G DEB -B "$tmp/pkg" >/dev/null)
deb="$(ls "$tmp"/pkg/latent-studio_*.deb)"
echo "package: $(basename "$deb") ($(du -h "$deb" | cut -f1))"
contents="$(dpkg-deb --contents "$deb")"
for f in usr/bin/latent-studio usr/bin/latent-cli usr/share/applications/latent-studio.desktop \
         usr/share/metainfo/io.latentstudio.LatentStudio.metainfo.xml usr/share/icons/hicolor/scalable/apps/latent-studio.svg \
         usr/share/latent-studio/models/default/model.safetensors usr/share/latent-studio/models/default-sr/model.json \
         usr/share/latent-studio/fetch-clip-vocab; do
    grep -q "\./$f\$" <<<"$contents" || { echo "missing from the package: /$f" >&2; exit 1; }
done
dpkg-deb --field "$deb" Depends | grep -q . || { echo "the package declares no dependencies" >&2; exit 1; }
$sudo_cmd dpkg -i "$deb" >/dev/null
trap '$sudo_cmd dpkg -r latent-studio >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
version="$(env -u DISPLAY -u WAYLAND_DISPLAY /usr/bin/latent-studio --version)"
[[ "$version" == "latent-studio "* ]] || { echo "unexpected --version output: $version" >&2; exit 1; }
echo "installed: $version"
/usr/bin/latent-cli generate --prompt "a large red circle at the top left" --steps 4 --seed 1 -o "$tmp/installed.png" >/dev/null
[[ -s "$tmp/installed.png" ]] || { echo "the installed latent-cli wrote no image" >&2; exit 1; }
echo "the installed latent-cli generated $tmp/installed.png with the packaged model"
