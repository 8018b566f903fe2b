#!/usr/bin/env bash
# `ringtrain shard` for each way in: a CSV table (200,000 rows of 32 features and a class id),
# NumPy arrays (200,000 x 128 float32 and int64 labels), and folders of 5,000 PNG and of 5,000
# JPEG images (Fashion-MNIST's, 64 x 64 RGB, stored 32 x 32), converted by 1 and 2 ranks, beside
# `cat` of the same input files (to /dev/null) on the same path: from local disk (the page cache)
# and through an Azurite + rclone blob mount. Shards go to local disk. Each figure is the median of
# ROUNDS runs (cat and the conversion alternating); MB/s are of input bytes. A conversion's rate
# is given twice: over the whole command, mpirun's start included (shown alone in the last line),
# and as the command reports it, from the ranks' start to the manifest ("in job"). Shards of
# SHARD_MB (default 4), so that each input makes several and two ranks have shards to share.
# Run by hand.
# Usage: [SHARD_MB=4] [WHERE="local blob"] benchmarks/convert/run.sh [ROUNDS]
set -euo pipefail
rounds=${1:-3}
shard_mb=${SHARD_MB:-4}
read -r -a places <<<"${WHERE:-local blob}"
source "$(dirname "$0")/../common.sh"
[[ -x build/benchmarks/make_images ]] || cmake --build build --target make_images >/dev/null
inputs=datasets/convert-bench
blob=$(mktemp -d)
out=$(mktemp -d)
trap 'scripts/blob-mount.sh stop "$blob" >/dev/null 2>&1 || true; rm -rf "$blob" "$out" "${in_job:-}"' EXIT

if [[ ! -f $inputs/done ]]; then
  mkdir -p "$inputs/csv" "$inputs/npy"
  /usr/bin/python3 - "$inputs" <<'PY'  # Debian's python3, where python3-numpy installs
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
      "$inputs/$format" "$format" 5000 64
  done
  touch "$inputs/done"
fi


median() { sort -g | awk '{v[NR] = $1} END {printf "%.2f\n", v[int((NR + 1) / 2)]}'; }
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc -l; }
in_job=$(mktemp)
# A conversion's time over the whole command; its own rate ("MB/s of input") left in $in_job.
timed_convert() {
  local start end
  start=$(date +%s.%N)
  convert "$@" 2>&1 | sed -n -E 's/.* ([0-9.]+) MB\/s of input.*/\1/p' >"$in_job"
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
read_all() { find "$1" -type f -print0 | xargs -0 cat >/dev/null; }
convert() {  # FORMAT WHERE RANKS
  local from=$2 launcher=()
  [[ $3 -gt 1 ]] && launcher=("${mpirun[@]}" -np "$3")
  rm -rf "${out:?}/shards"
  case $1 in
    csv) "${launcher[@]}" build/ringtrain shard --csv "$from/table.csv" --label label --shard-mb "$shard_mb" \
           --output "$out/shards" ;;
    npy) "${launcher[@]}" build/ringtrain shard --npy "$from/x.npy" --labels "$from/y.npy" --shard-mb "$shard_mb" \
           --output "$out/shards" ;;
    png|jpeg) "${launcher[@]}" build/ringtrain shard --images "$from" --size 32 --shard-mb "$shard_mb" \
                --output "$out/shards" ;;
  esac
}

printf "%-6s %-6s %10s %10s %10s %8s %8s %12s %12s\n" format from "cat MB/s" "np1 MB/s" "np2 MB/s" "np1/cat" \
  "np2/cat" "np1 in job" "np2 in job"
results=()
for where in "${places[@]}"; do
  if [[ $where == blob ]]; then  # the inputs uploaded to the emulator's container, read through the mount
    scripts/blob-mount.sh start "$blob" 10078 >/dev/null
    for part in csv npy png jpeg; do scripts/blob-mount.sh upload "$blob" "$inputs/$part" "bench/$part"; done
  fi
  for format in csv npy png jpeg; do
    path=$inputs/$format
    [[ $where == blob ]] && path=$blob/mnt/bench/$format
    bytes=$(du -sb --apparent-size "$inputs/$format" | cut -f1)
    read_all "$path"  # the listing and the first read: as a conversion finds them on a second pass
    cats=() ones=() twos=() ones_in=() twos_in=()
    for ((r = 0; r < rounds; r++)); do
      cats+=("$(echo "$bytes / $(seconds read_all "$path") / 1000000" | bc -l)")
      ones+=("$(echo "$bytes / $(timed_convert "$format" "$path" 1) / 1000000" | bc -l)")
      ones_in+=("$(cat "$in_job")")
      twos+=("$(echo "$bytes / $(timed_convert "$format" "$path" 2) / 1000000" | bc -l)")
      twos_in+=("$(cat "$in_job")")
    done
    cat_rate=$(printf "%s\n" "${cats[@]}" | median)
    one=$(printf "%s\n" "${ones[@]}" | median)
    two=$(printf "%s\n" "${twos[@]}" | median)
    printf "%-6s %-6s %10s %10s %10s %8.3f %8.3f %12s %12s\n" "$format" "$where" "$cat_rate" "$one" "$two" \
      "$(echo "$one / $cat_rate" | bc -l)" "$(echo "$two / $cat_rate" | bc -l)" \
      "$(printf "%s\n" "${ones_in[@]}" | median)" "$(printf "%s\n" "${twos_in[@]}" | median)"
    results+=("RESULT convert_${format}_${where}_np2: ours $two MB/s, cat $cat_rate MB/s, ratio $(echo "$two / $cat_rate" | bc -l | xargs printf "%.3f")")
  done
done
starts=()
for ((r = 0; r < rounds; r++)); do starts+=("$(seconds "${mpirun[@]}" -np 2 build/ringtrain --version)"); done
echo "start of 2 ranks (mpirun -np 2 ringtrain --version): $(printf "%s\n" "${starts[@]}" | median) s (median of $rounds)"
printf "%s\n" "${results[@]}"
