#!/usr/bin/env bash
# Scaling on this machine, one math thread per rank, at 1 and 2 ranks: weak (the per-rank batch
# kept, so 2 ranks train twice the samples per step) for the Fashion-MNIST MLP, a larger MLP whose
# compute dominates and the CNN; strong (the global batch kept, split over the ranks) for the MLP
# and the CNN. Prints samples/s per rank, the gradient wait and the efficiency: weak, the per-rank
# rate at 2 ranks over the rate at 1; strong, the job's speed-up over 2. Run by hand.
# Usage: benchmarks/scaling/run.sh [EPOCHS]   (the CNN trains one epoch, whatever EPOCHS)
epochs=${1:-2}
source "$(dirname "$0")/../common.sh"
ensure_fashion_mnist
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {  # NAME RANKS GLOBAL_BATCH CONFIG EPOCHS [--set key=value ...]
  local name=$1 ranks=$2 batch=$3 config=$4 n_epochs=$5
  shift 5
  "${mpirun[@]}" -np "$ranks" build/ringtrain train "$config" --set train.epochs="$n_epochs" \
    --set train.global_batch="$batch" --set runtime.threads=1 --set log.dir="$out/$name-np$ranks" "$@" | tail -1
}
mlp=examples/fashion_mnist/mlp.toml cnn=examples/fashion_mnist/cnn.toml
for ranks in 1 2; do
  run fmnist "$ranks" $((ranks * 64)) $mlp "$epochs" --set model.hidden="[512, 256]"
  run large "$ranks" $((ranks * 256)) $mlp "$epochs" --set model.hidden="[2048, 2048]"
  run cnn "$ranks" $((ranks * 64)) $cnn 1
  run fmnist-strong "$ranks" 128 $mlp "$epochs" --set model.hidden="[512, 256]"
  run cnn-strong "$ranks" 128 $cnn 1
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def rate(name, n):
    rows = [json.loads(l) for l in open(f"{out}/{name}-np{n}/metrics.jsonl")]
    rows = [r for r in rows if r.get("kind") == "epoch"]
    rows = rows[1:] or rows  # the first epoch warms up, where there are more
    return (statistics.median(r["samples_per_second"] for r in rows),
            statistics.median(r["communication_seconds"] / r["train_seconds"] for r in rows))
print(f"{'model':40}{'np1 /rank':>11}{'np2 /rank':>11}{'grad wait':>11}{'efficiency':>12}")
for name, label, kind in (("fmnist", "MLP 784-512-256-10, 64/rank", "weak"),
                          ("large", "MLP 784-2048-2048-10, 256/rank", "weak"),
                          ("cnn", "CNN, 64/rank", "weak"),
                          ("fmnist-strong", "MLP 784-512-256-10, 128 in all", "strong"),
                          ("cnn-strong", "CNN, 128 in all", "strong")):
    (r1, _), (r2, wait) = rate(name, 1), rate(name, 2)
    efficiency = r2 / 2 / r1  # weak: per-rank rates; strong: the job's speed-up over 2, the same ratio
    print(f"{label:40}{r1:11.0f}{r2 / 2:11.0f}{100 * wait:10.1f}%{efficiency:12.2f}")
    print(f"RESULT {kind}_scaling_{name.replace('-strong', '')}_np2: ours {r2 / 2:.0f} samples/s/rank, "
          f"np1 {r1:.0f} samples/s/rank, ratio {efficiency:.2f}")
PY
