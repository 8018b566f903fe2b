#!/usr/bin/env bash
# `ringtrain shard` for each way in: a CSV table (200,000 rows of 32 features and a class id),
# NumPy arrays (200,000 x 128 float32 and int64 labels), and folders of 20,000 PNG and of 20,000
# JPEG images (Fashion-MNIST's, 64 x 64 RGB, stored 32 x 32), converted by 1 and 2 ranks, beside
# `cat` of the same input files (to /dev/null) on the same path: from local disk (the page cache)
# and through an Azurite + rclone blob mount. Shards go to local disk. Each figure is the median of
# ROUNDS runs (cat and the conversion alternating); MB/s are of input bytes. Run by hand.
# Usage: benchmarks/convert/run.sh [ROUNDS]
set -euo pipefail
rounds=${1:-3}
source "$(dirname "$0")/../common.sh"
[[ -x build/benchmarks/make_images ]] || cmake --build build --target make_images >/dev/null
inputs=datasets/convert-bench
blob=$(mktemp -d)
out=$(mktemp -d)
trap 'scripts/blob-mount.sh stop "$blob" >/dev/null 2>&1 || true; rm -rf "$blob" "$out"' EXIT

if [[ ! -f $inputs/done ]]; then
  mkdir -p "$inputs/csv" "$inputs/npy"
  python3 - "$inputs" <<'PY'
import sys
import numpy as np
root = sys.argv[1]
rng = np.random.default_rng(1)
x = rng.normal(size=(200000, 32)).astype(np.float32)
y = rng.integers(0, 10, size=200000)
with open(f"{root}/csv/table.csv", "w") as f:
    f.write(",".join(f"f{i}" for i in range(32)) + ",label\n")
    np.savetxt(f, np.column_stack([x, y]), fmt=["%.6g"] * 32 + ["%d"], delimiter=",")
np.save(f"{root}/npy/x.npy", rng.normal(size=(200000, 128)).astype(np.float32))
np.save(f"{root}/npy/y.npy", rng.integers(0, 10, size=200000))
PY
  source_idx=/usr/share/datasets/fashion-mnist
  for format in png jpeg; do
    build/benchmarks/make_images "$source_idx/train-images-idx3-ubyte.gz" "$source_idx/train-labels-idx1-ubyte.gz" \
      "$inputs/$format" "$format" 20000 64
  done
  touch "$inputs/done"
fi

scripts/blob-mount.sh start "$blob" 10078 >/dev/null
for part in csv npy png jpeg; do scripts/blob-mount.sh upload "$blob" "$inputs/$part" "bench/$part"; done

median() { sort -g | awk '{v[NR] = $1} END {printf "%.1f\n", v[int((NR + 1) / 2)]}'; }
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc -l; }
read_all() { find "$1" -type f -print0 | xargs -0 cat >/dev/null; }
convert() {  # FORMAT WHERE RANKS
  local from=$2 launcher=()
  [[ $3 -gt 1 ]] && launcher=("${mpirun[@]}" -np "$3")
  rm -rf "${out:?}/shards"
  case $1 in
    csv) "${launcher[@]}" build/ringtrain shard --csv "$from/table.csv" --label label --output "$out/shards" ;;
    npy) "${launcher[@]}" build/ringtrain shard --npy "$from/x.npy" --labels "$from/y.npy" --output "$out/shards" ;;
    png|jpeg) "${launcher[@]}" build/ringtrain shard --images "$from" --size 32 --output "$out/shards" ;;
  esac
}

printf "%-6s %-6s %12s %12s %12s %9s %9s\n" format from "cat MB/s" "np1 MB/s" "np2 MB/s" "np1/cat" "np2/cat"
results=()
for where in local blob; do
  for format in csv npy png jpeg; do
    path=$inputs/$format
    [[ $where == blob ]] && path=$blob/mnt/bench/$format
    bytes=$(du -sb --apparent-size "$inputs/$format" | cut -f1)
    read_all "$path"  # the listing and the first read: as a conversion finds them on a second pass
    cats=() ones=() twos=()
    for ((r = 0; r < rounds; r++)); do
      cats+=("$(echo "$bytes / $(seconds read_all "$path") / 1e6" | bc -l)")
      ones+=("$(echo "$bytes / $(seconds convert "$format" "$path" 1) / 1e6" | bc -l)")
      twos+=("$(echo "$bytes / $(seconds convert "$format" "$path" 2) / 1e6" | bc -l)")
    done
    cat_rate=$(printf "%s\n" "${cats[@]}" | median)
    one=$(printf "%s\n" "${ones[@]}" | median)
    two=$(printf "%s\n" "${twos[@]}" | median)
    printf "%-6s %-6s %12s %12s %12s %9.3f %9.3f\n" "$format" "$where" "$cat_rate" "$one" "$two" \
      "$(echo "$one / $cat_rate" | bc -l)" "$(echo "$two / $cat_rate" | bc -l)"
    results+=("RESULT convert_${format}_${where}_np2: ours $two MB/s, cat $cat_rate MB/s, ratio $(echo "$two / $cat_rate" | bc -l | xargs printf "%.3f")")
  done
done
printf "%s\n" "${results[@]}"
