#!/usr/bin/env bash
# CTest cli_passive_openmp_wait: latent-cli restarts with a short OpenMP spin (GOMP_SPINCOUNT=2000) unless a policy is set (util/Threads.h).
# Usage: passive_openmp_wait.sh LATENT_CLI
set -uo pipefail
cli="$1"
out="$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$cli" --version 2>&1)" || exit 1
last="$(grep "GOMP_SPINCOUNT = " <<<"$out" | tail -n 1)"
echo "without a policy: $last"
[[ "$last" == *"'2000'"* ]] || { echo "latent-cli did not restart with GOMP_SPINCOUNT=2000"; exit 1; }
out="$(env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=ACTIVE OMP_DISPLAY_ENV=verbose "$cli" --version 2>&1)" || exit 1
[[ "$(grep -c "GOMP_SPINCOUNT = " <<<"$out")" == 1 && "$out" == *"OMP_WAIT_POLICY = 'ACTIVE'"* ]] \
    || { echo "an explicit OMP_WAIT_POLICY was not kept"; exit 1; }
