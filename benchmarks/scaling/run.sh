#!/usr/bin/env bash
# Weak scaling on this machine: the same per-rank batch and one math thread per rank at 1 and 2
# ranks, for the Fashion-MNIST MLP and for a larger MLP whose compute dominates. Prints samples/s
# per rank and the weak-scaling efficiency (per-rank rate at 2 ranks / at 1). Run by hand.
# Usage: benchmarks/scaling/run.sh [EPOCHS]
epochs=${1:-2}
source "$(dirname "$0")/../common.sh"
ensure_fashion_mnist
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {  # NAME RANKS PER_RANK_BATCH HIDDEN
  "${mpirun[@]}" -np "$2" build/ringtrain train examples/fashion_mnist/mlp.toml --set train.epochs="$epochs" \
    --set train.global_batch=$(($2 * $3)) --set model.hidden="$4" --set runtime.threads=1 \
    --set log.metrics="$out/$1-np$2.jsonl" | tail -1
}
for ranks in 1 2; do
  run fmnist "$ranks" 64 "[512, 256]"
  run large "$ranks" 256 "[2048, 2048]"
done
/usr/bin/python3 - "$out" "$epochs" <<'PY'
import json, statistics, sys
out, epochs = sys.argv[1], int(sys.argv[2])
def rate(name, n):
    rows = [r for r in (json.loads(l) for l in open(f"{out}/{name}-np{n}.jsonl")) if r.get("kind", "epoch") == "epoch"]
    rows = rows[1:] or rows
    return statistics.median(r["samples_per_second"] for r in rows), statistics.median(r["communication_seconds"] / r["train_seconds"] for r in rows)
print(f"{'model':34}{'np1 /rank':>12}{'np2 /rank':>12}{'gradient wait':>15}{'efficiency':>12}")
for name, label in (("fmnist", "MLP 784-512-256-10, 64/rank"), ("large", "MLP 784-2048-2048-10, 256/rank")):
    (r1, _), (r2, wait) = rate(name, 1), rate(name, 2)
    print(f"{label:34}{r1:12.0f}{r2 / 2:12.0f}{100 * wait:14.1f}%{r2 / 2 / r1:12.2f}")
    print(f"RESULT weak_scaling_{name}_np2: ours {r2 / 2:.0f} samples/s/rank, np1 {r1:.0f} samples/s/rank, ratio {r2 / 2 / r1:.2f}")
PY
