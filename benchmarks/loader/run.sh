#!/usr/bin/env bash
# The loader over the Fashion-MNIST shards from local disk (from the page cache, and from the
# disk itself with the files' cached pages dropped before each read) and through an Azurite +
# rclone blob mount, beside a raw sequential read (cat) of the same files on the same path: the loader with
# its default whole-shard prefetch (data.prefetch_shards = 4 there), 2 shards at once, and the
# reader reading the files chunk by chunk (prefetch 0). Then the mount again, slowed down: rclone
# --tpslimit 4 (at most 4 requests a second), the loader at prefetch depths 0, 1, 2 and 4; and
# 20 ms of latency on every request (scripts/latency-proxy.js), at depths 0, 1, 2, 4 and 8.
# Fashion-MNIST's 47 MB are less than one shard of the default size, so an epoch of it is mostly
# start-up (the first shuffle window read before the first batch, the last one cut after the last
# read); the same measurements are also made on a larger set in shards of the default 128 MiB:
# the training images 16 times over (960,000 samples, 760 MB, 6 shards, `ringtrain shard`).
# Before those, training from the mount (CNN and MLP) and the share of its time spent waiting for
# data. Each measurement is repeated (cat and loader alternating, ROUNDS times, default 3) and the
# median, minimum and maximum are reported: a single run through the mount varies too much to
# compare. Run by hand.
# Usage: benchmarks/loader/run.sh [ROUNDS]
set -euo pipefail
rounds=${1:-3}
source "$(dirname "$0")/../common.sh"
ensure_fashion_mnist
blob=$(mktemp -d)
trap 'scripts/blob-mount.sh stop "$blob" >/dev/null 2>&1 || true; rm -rf "$blob"' EXIT
large=datasets/fashion-mnist-x16/train
ensure_large() {  # the 60,000 training images and labels 16 times over, as IDX files, then sharded
  [[ -f $large/shard-manifest.json ]] && return 0
  local idx
  idx=$(mktemp -d)
  python3 - "$idx" <<'PY'
import gzip, struct, sys
source, copies = "/usr/share/datasets/fashion-mnist/", 16
for kind, header in (("images-idx3", 16), ("labels-idx1", 8)):
    data = gzip.open(f"{source}train-{kind}-ubyte.gz").read()
    count = struct.unpack(">I", data[4:8])[0]
    with open(f"{sys.argv[1]}/{kind}", "wb") as out:
        out.write(data[:4] + struct.pack(">I", count * copies) + data[8:header] + data[header:] * copies)
PY
  build/ringtrain shard --images "$idx/images-idx3" --labels "$idx/labels-idx1" --output "$large" >/dev/null
  rm -rf "$idx"
}
ensure_large
summary() {  # median min max of the numbers on stdin
  sort -g | awk '{v[NR] = $1} END {printf "%.1f %.1f %.1f\n", v[int((NR + 1) / 2)], v[1], v[NR]}'
}
# With cold=1, each read starts with the files' pages dropped from the page cache (GNU dd's
# nocache), so that it reads the disk itself.
cold=0
evict() {
  [[ $cold == 1 ]] || return 0
  local file
  for file in "$1"/*.h5; do dd if="$file" iflag=nocache count=0 status=none; done
}
cat_rate() {
  local start end bytes
  bytes=$(du -cb "$1"/*.h5 | tail -1 | cut -f1)
  evict "$1"
  start=$(date +%s.%N); cat "$1"/*.h5 >/dev/null; end=$(date +%s.%N)
  echo "$bytes / ($end - $start) / 1000000" | bc -l
}
# uint8 features handed out as stored, as a GPU run takes them (a CPU run has the loader's thread
# convert them to float as well: `loader_bench DIR 128 1 float` measures that).
loader_rate() {  # DIR PREFETCH_SHARDS -> MB/s of samples
  evict "$1"
  build/benchmarks/loader_bench "$1" 128 1 stored "$2" | tail -1 | sed -E 's/.*, ([0-9.]+) MB\/s.*/\1/'
}
mount_blob() {
  scripts/blob-mount.sh stop "$blob" >/dev/null 2>&1 || true
  rm -rf "${blob:?}"/*
  scripts/blob-mount.sh start "$blob" 10077 >/dev/null
  scripts/blob-mount.sh upload "$blob" "$RINGTRAIN_DATA/train" fmnist/train
  # Before anything lists the container: the mount caches directory listings.
  scripts/blob-mount.sh upload "$blob" "$RINGTRAIN_DATA/test" fmnist/test
  [[ ${1:-} != large ]] || scripts/blob-mount.sh upload "$blob" "$large" large/train
}
# measure NAME DIR DEPTH...: cat and the loader at each depth, ROUNDS times; RESULT for the first depth.
measure() {
  local name=$1 where=$2
  shift 2
  echo "== $name: $where"
  local -a cats=()
  declare -A loads=()
  # From the page cache: the files read once first, so that no round reads the disk.
  [[ $cold == 1 ]] || cat "$where"/*.h5 >/dev/null
  for round in $(seq "$rounds"); do
    cats+=("$(cat_rate "$where")")
    local line="round $round: cat $(printf %.1f "${cats[-1]}") MB/s"
    for depth in "$@"; do
      local rate
      rate=$(loader_rate "$where" "$depth")
      loads[$depth]="${loads[$depth]:-} $rate"
      line+=", loader (prefetch $depth) $rate MB/s"
    done
    echo "$line"
  done
  read -r cat_median cat_min cat_max < <(printf '%s\n' "${cats[@]}" | summary)
  printf 'cat %s MB/s (%s-%s)\n' "$cat_median" "$cat_min" "$cat_max"
  for depth in "$@"; do
    read -r median low high < <(printf '%s\n' ${loads[$depth]} | summary)
    printf 'loader, prefetch %s: %s MB/s (%s-%s), %.2fx cat\n' "$depth" "$median" "$low" "$high" \
      "$(echo "$median / $cat_median" | bc -l)"
    [[ $depth == "$1" ]] && result="RESULT loader_$name: ours $median MB/s, cat $cat_median MB/s, ratio $(printf %.2f "$(echo "$median / $cat_median" | bc -l)")"
  done
  results+=("$result")
}
results=()
measure local "$RINGTRAIN_DATA/train" 0 2  # the default on a local disk: 0
measure local_large "$large" 0 2
cold=1
measure local_cold "$RINGTRAIN_DATA/train" 0 2
measure local_cold_large "$large" 0 2
cold=0
mount_blob large
measure blob_mount "$blob/mnt/fmnist/train" 4 2 0
measure blob_mount_large "$blob/mnt/large/train" 4 2
# Training from the mount: the share of each epoch spent waiting for data (epochs after the
# first, whose start is cold), for the CNN (a compute-bound step) and the MLP (a 4 ms step).
train_wait() {  # NAME CONFIG EPOCHS -> a line and a RESULT
  local metrics
  metrics=$(mktemp)
  RINGTRAIN_DATA="$blob/mnt/fmnist" build/ringtrain train "examples/fashion_mnist/$2" --set train.epochs="$3" \
    --set log.metrics="$metrics" >/dev/null
  python3 - "$metrics" "$1" <<'PY'
import json, sys
rows = [r for r in (json.loads(line) for line in open(sys.argv[1])) if r.get("kind", "epoch") == "epoch"][1:]
share = 100 * sum(r["data_wait_seconds"] for r in rows) / sum(r["train_seconds"] for r in rows)
print(f"training {sys.argv[2]} from the mount: data wait {share:.2f}% of epochs 2-{len(rows) + 1}")
print(f"RESULT loader_training_data_wait_{sys.argv[2]}: ours {share:.2f} %, goal 2.00 %, ratio {2 / max(share, 0.01):.2f}")
PY
  rm -f "$metrics"
}
results+=("$(train_wait cnn cnn.toml 3)")
results+=("$(train_wait mlp mlp.toml 5)")
RCLONE_MOUNT_FLAGS="--tpslimit 4" mount_blob
measure blob_mount_tpslimit4 "$blob/mnt/fmnist/train" 4 0 1 2
# Latency instead of a request rate: every request to the storage service 20 ms late.
BLOB_LATENCY_MS=20 mount_blob
measure blob_mount_latency20ms "$blob/mnt/fmnist/train" 4 0 1 2 8
echo "(MB/s: the loader's samples, features and labels; cat's: the shard files, HDF5 overhead included)"
printf '%s\n' "${results[@]}"
