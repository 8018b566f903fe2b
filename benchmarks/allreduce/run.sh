#!/usr/bin/env bash
# All-reduce bandwidth, ours against raw MPI_Allreduce, at 2 and 4 ranks (run by hand, never by CI).
source "$(dirname "$0")/../common.sh"
for ranks in 2 4; do
  "${mpirun[@]}" -np "$ranks" build/benchmarks/allreduce
done
