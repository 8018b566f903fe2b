# Sourced by the GPU benchmark scripts: run from the repository root; `ringtrain` from PATH (a packed
# folder's env.sh puts it there) or build/; the Fashion-MNIST shards (made from $FASHION_MNIST_IDX,
# default Debian's dataset-fashion-mnist, if missing); a scratch folder $out, removed at exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ringtrain=$(command -v ringtrain || echo build/ringtrain)
idx=${FASHION_MNIST_IDX:-/usr/share/datasets/fashion-mnist}
export RINGTRAIN_DATA=${RINGTRAIN_DATA:-$PWD/datasets/fashion-mnist}
[[ -d "$RINGTRAIN_DATA/train" ]] ||
  "$ringtrain" shard --idx-dir "$idx" --output "$RINGTRAIN_DATA" --train-shards 8 --test-shards 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
