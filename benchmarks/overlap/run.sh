#!/usr/bin/env bash
# Exposed gradient communication with and without overlap at 2 ranks (run by hand, never by CI).
# Usage: benchmarks/overlap/run.sh [BUCKET_MB]
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -x build/benchmarks/overlap ]] || bash scripts/build.sh
root_flag=()
[[ $(id -u) -eq 0 ]] && root_flag=(--allow-run-as-root)
bucket=${1:-25}
# A model whose gradients (11.6 MB) take a good part of a step on this machine.
mpirun "${root_flag[@]}" --oversubscribe -np 2 build/benchmarks/overlap 32 60 "$bucket" 784 1024 1024 1024 10
