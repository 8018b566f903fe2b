#!/usr/bin/env bash
# ResNet-50 gradient synchronisation, per tensor against buckets, at 2 and 4 ranks (run by hand).
source "$(dirname "$0")/../common.sh"
for ranks in 2 4; do
  "${mpirun[@]}" -np "$ranks" build/benchmarks/gradsync
done
