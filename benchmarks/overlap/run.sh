#!/usr/bin/env bash
# Exposed gradient communication with and without overlap at 2 ranks (run by hand, never by CI).
# Usage: benchmarks/overlap/run.sh [BUCKET_MB]
bucket=${1:-25}
source "$(dirname "$0")/../common.sh"
# A model whose gradients (11.6 MB) take a good part of a step on this machine.
"${mpirun[@]}" -np 2 build/benchmarks/overlap 32 60 "$bucket" 784 1024 1024 1024 10
