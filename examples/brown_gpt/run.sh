#!/usr/bin/env bash
# A small GPT on the Brown Corpus end to end: prepare the shards (once), train gpt.toml with RANKS
# ranks (default 2) under mpirun, checkpointing to datasets/brown/checkpoints (a second run continues
# the first: --resume auto), then sample a few lines from the trained model.
# Usage: examples/brown_gpt/run.sh [RANKS] [--set key=value ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
ranks=${1:-2}
[[ $# -gt 0 ]] && shift
examples/brown_gpt/prepare.sh
export RINGTRAIN_DATA=${RINGTRAIN_DATA:-$PWD/datasets/brown/shards}
export RINGTRAIN_CHECKPOINTS=${RINGTRAIN_CHECKPOINTS:-$PWD/datasets/brown/checkpoints}
root_flag=()
[[ $(id -u) -eq 0 ]] && root_flag=(--allow-run-as-root)
mpirun "${root_flag[@]}" --oversubscribe -np "$ranks" build/ringtrain train examples/brown_gpt/gpt.toml --resume auto "$@"
build/ringtrain generate "$RINGTRAIN_CHECKPOINTS" --prompt "The jury said" --tokens 300 --temperature 0.8 --top-k 40
