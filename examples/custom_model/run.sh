#!/usr/bin/env bash
# A model of our own, end to end: install ringtrain (as built by scripts/build.sh) to a prefix,
# build this project against the installed package alone, check Swish's backward against
# differences, then train swish.toml on Fashion-MNIST with RANKS ranks (default 2) under mpirun.
# Usage: examples/custom_model/run.sh [RANKS] [--set key=value ...]
# RINGTRAIN_BUILD (default build) is ringtrain's build; RINGTRAIN_PREFIX (default build/install)
# and CUSTOM_MODEL_BUILD (default build/custom_model) say where the package and this project's
# build go.
set -euo pipefail
cd "$(dirname "$0")/../.."
ranks=${1:-2}
[[ $# -gt 0 ]] && shift
prefix=${RINGTRAIN_PREFIX:-$PWD/build/install}
work=${CUSTOM_MODEL_BUILD:-$PWD/build/custom_model}
cmake --install "${RINGTRAIN_BUILD:-build}" --prefix "$prefix" >/dev/null
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S examples/custom_model -B "$work" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work"
"$work/swish_gradient_test"
export RINGTRAIN_DATA=${RINGTRAIN_DATA:-$PWD/datasets/fashion-mnist}
if [[ ! -d "$RINGTRAIN_DATA/train" ]]; then
  "$prefix/bin/ringtrain" shard --idx-dir /usr/share/datasets/fashion-mnist --output "$RINGTRAIN_DATA" \
    --train-shards 8 --test-shards 2
fi
root_flag=()
[[ $(id -u) -eq 0 ]] && root_flag=(--allow-run-as-root)
exec mpirun "${root_flag[@]}" --oversubscribe -np "$ranks" "$work/custom_model" train examples/custom_model/swish.toml "$@"
