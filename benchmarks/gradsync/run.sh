#!/usr/bin/env bash
# ResNet-50 gradient synchronisation, per tensor against buckets, at 2 and 4 ranks (run by hand).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -x build/benchmarks/gradsync ]] || bash scripts/build.sh
root_flag=()
[[ $(id -u) -eq 0 ]] && root_flag=(--allow-run-as-root)
for ranks in 2 4; do
  mpirun "${root_flag[@]}" --oversubscribe -np "$ranks" build/benchmarks/gradsync
done
