#!/usr/bin/env bash
# The loader over the Fashion-MNIST shards from local disk and through an Azurite + rclone blob
# mount, beside a raw sequential read (cat) of the same files on the same path. Run by hand.
set -euo pipefail
source "$(dirname "$0")/../common.sh"
ensure_fashion_mnist
blob=$(mktemp -d)
trap 'scripts/blob-mount.sh stop "$blob"; rm -rf "$blob"' EXIT
scripts/blob-mount.sh start "$blob" 10077 >/dev/null
scripts/blob-mount.sh upload "$blob" "$RINGTRAIN_DATA/train" fmnist/train
bytes=$(du -cb "$RINGTRAIN_DATA"/train/*.h5 | tail -1 | cut -f1)
for where in "$RINGTRAIN_DATA/train" "$blob/mnt/fmnist/train"; do
  echo "== $where"
  start=$(date +%s.%N); cat "$where"/*.h5 >/dev/null; end=$(date +%s.%N)
  raw=$(echo "$bytes / ($end - $start) / 1000000" | bc -l)
  printf 'cat: %.1f MB/s\n' "$raw"
  out=$(build/benchmarks/loader_bench "$where" 128 2 | tail -1)
  echo "loader: $out"
  ours=$(echo "$out" | sed -E 's/.*, ([0-9.]+) MB\/s.*/\1/')
  name=$([[ $where == "$RINGTRAIN_DATA/train" ]] && echo local || echo blob_mount)
  printf 'RESULT loader_%s: ours %.1f MB/s, cat %.1f MB/s, ratio %.2f\n' "$name" "$ours" "$raw" "$(echo "$ours / $raw" | bc -l)"
done
