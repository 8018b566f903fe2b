#!/usr/bin/env bash
# All-reduce bandwidth, ours against raw MPI_Allreduce, at 2 and 4 ranks (run by hand, never by CI).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -x build/benchmarks/allreduce ]] || bash scripts/build.sh
root_flag=()
[[ $(id -u) -eq 0 ]] && root_flag=(--allow-run-as-root)
for ranks in 2 4; do
  mpirun "${root_flag[@]}" --oversubscribe -np "$ranks" build/benchmarks/allreduce
done
