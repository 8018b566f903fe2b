#!/usr/bin/env bash
# Fashion-MNIST end to end: shard the Debian dataset-fashion-mnist IDX files into HDF5 (once),
# then train the MLP of mlp.toml with RANKS ranks (default 2) under mpirun.
# Usage: examples/fashion_mnist/run.sh [RANKS] [--set key=value ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
ranks=${1:-2}
[[ $# -gt 0 ]] && shift
idx=/usr/share/datasets/fashion-mnist
export RINGTRAIN_DATA=${RINGTRAIN_DATA:-$PWD/datasets/fashion-mnist}
if [[ ! -d "$RINGTRAIN_DATA/train" ]]; then
  build/ringtrain shard --idx-dir "$idx" --output "$RINGTRAIN_DATA" --train-shards 8 --test-shards 2
fi
root_flag=()
[[ $(id -u) -eq 0 ]] && root_flag=(--allow-run-as-root)
exec mpirun "${root_flag[@]}" --oversubscribe -np "$ranks" build/ringtrain train examples/fashion_mnist/mlp.toml "$@"
