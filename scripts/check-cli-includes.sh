#!/usr/bin/env bash
# The command line sees the engine only through its public headers (issue 17): every file of app/cli includes, from
# core/ and server/, only the headers listed below, and none of those reaches torch (ATen, c10, torch) through its own
# includes. pipeline/Engine.h runs the jobs, tools/DevTools.h the developer tools (bench, golden, info, manifest,
# train, eval); the rest are torch-free helpers (images, infotext, names, errors, threads).
# Usage: scripts/check-cli-includes.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
public=(pipeline/Engine.h pipeline/GenerationRequest.h pipeline/Infotext.h pipeline/Names.h pipeline/SamplerNames.h
    io/ImageFile.h
    util/Error.h util/Threads.h tools/DevTools.h server/ApiServer.h)
status=0
for f in app/cli/*.cpp app/cli/*.h; do
    while IFS= read -r inc; do
        [[ "$inc" == cli/* ]] && continue
        ok=0
        for p in "${public[@]}"; do [[ "$inc" == "$p" ]] && ok=1; done
        if ((!ok)); then
            echo "$f includes \"$inc\": not one of the engine's public headers (${public[*]})"
            status=1
        fi
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
    if grep -qE '^#include <(ATen|c10|torch)/' "$f"; then
        echo "$f includes torch directly"
        status=1
    fi
done
# The public headers' own include closure (quoted includes under core/ and server/) stays torch-free.
declare -A seen=()
queue=()
for p in "${public[@]}"; do queue+=("$p"); done
while ((${#queue[@]})); do
    h="${queue[0]}"
    queue=("${queue[@]:1}")
    [[ -n "${seen[$h]:-}" ]] && continue
    seen[$h]=1
    file=""
    for root in core "."; do [[ -f "$root/$h" ]] && file="$root/$h" && break; done
    [[ -z "$file" ]] && continue
    if grep -qE '^#include <(ATen|c10|torch)/' "$file"; then
        echo "$file (reached from the CLI's public headers) includes torch"
        status=1
    fi
    while IFS= read -r inc; do queue+=("$inc"); done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done
((status == 0)) && echo "cli includes: only the engine's public headers (${#seen[@]} headers, torch-free)"
exit $status
