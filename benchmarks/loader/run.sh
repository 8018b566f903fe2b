#!/usr/bin/env bash
# The loader over the Fashion-MNIST shards from local disk and through an Azurite + rclone blob
# mount, beside a raw sequential read (cat) of the same files on the same path. Each measurement
# is repeated (cat and loader alternating, ROUNDS times, default 3), and the median, minimum and
# maximum are reported: a single run through the mount varies too much to compare. Run by hand.
# Usage: benchmarks/loader/run.sh [ROUNDS]
set -euo pipefail
rounds=${1:-3}
source "$(dirname "$0")/../common.sh"
ensure_fashion_mnist
blob=$(mktemp -d)
trap 'scripts/blob-mount.sh stop "$blob"; rm -rf "$blob"' EXIT
scripts/blob-mount.sh start "$blob" 10077 >/dev/null
scripts/blob-mount.sh upload "$blob" "$RINGTRAIN_DATA/train" fmnist/train
bytes=$(du -cb "$RINGTRAIN_DATA"/train/*.h5 | tail -1 | cut -f1)
summary() {  # median min max of the numbers on stdin
  sort -g | awk '{v[NR] = $1} END {printf "%.1f %.1f %.1f\n", v[int((NR + 1) / 2)], v[1], v[NR]}'
}
for where in "$RINGTRAIN_DATA/train" "$blob/mnt/fmnist/train"; do
  echo "== $where"
  cats=() loads=()
  for round in $(seq "$rounds"); do
    start=$(date +%s.%N); cat "$where"/*.h5 >/dev/null; end=$(date +%s.%N)
    cats+=("$(echo "$bytes / ($end - $start) / 1000000" | bc -l)")
    out=$(build/benchmarks/loader_bench "$where" 128 2 | tail -1)
    loads+=("$(echo "$out" | sed -E 's/.*, ([0-9.]+) MB\/s.*/\1/')")
    printf 'round %d: cat %.1f MB/s, loader %.1f MB/s\n' "$round" "${cats[-1]}" "${loads[-1]}"
  done
  read -r cat_median cat_min cat_max < <(printf '%s\n' "${cats[@]}" | summary)
  read -r ours_median ours_min ours_max < <(printf '%s\n' "${loads[@]}" | summary)
  printf 'cat %s MB/s (%s-%s), loader %s MB/s (%s-%s), medians of %d rounds\n' "$cat_median" "$cat_min" "$cat_max" \
    "$ours_median" "$ours_min" "$ours_max" "$rounds"
  name=$([[ $where == "$RINGTRAIN_DATA/train" ]] && echo local || echo blob_mount)
  printf 'RESULT loader_%s: ours %.1f MB/s, cat %.1f MB/s, ratio %.2f\n' "$name" "$ours_median" "$cat_median" \
    "$(echo "$ours_median / $cat_median" | bc -l)"
done
