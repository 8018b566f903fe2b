#!/usr/bin/env bash
# The same Fashion-MNIST job (seed, global batch 128, 10 epochs) with 1, 2 and 4 ranks on this
# machine: final test accuracy, which should agree within noise, and samples/s of the whole job.
# Usage: benchmarks/mlp_cpu/ranks.sh [EPOCHS]      (run by hand; CI never runs it)
epochs=${1:-10}
source "$(dirname "$0")/../common.sh"
ensure_fashion_mnist
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ranks in 1 2 4; do
  "${mpirun[@]}" --bind-to none -np "$ranks" build/ringtrain train examples/fashion_mnist/mlp.toml \
    --set train.epochs="$epochs" --set log.metrics="$out/np$ranks.jsonl" | tail -1
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = {n: [r for r in (json.loads(l) for l in open(f"{sys.argv[1]}/np{n}.jsonl")) if r.get("kind", "epoch") == "epoch"] for n in (1, 2, 4)}
print(f"{'ranks':>6}{'test acc %':>12}{'samples/s':>12}{'all-reduce s/epoch':>20}")
for n, r in rows.items():
    print(f"{n:6d}{100 * r[-1]['test_accuracy']:12.2f}{statistics.median(e['samples_per_second'] for e in r[1:]):12.0f}"
          f"{statistics.median(e['communication_seconds'] for e in r[1:]):20.3f}")
accuracies = [100 * r[-1]["test_accuracy"] for r in rows.values()]
print(f"RESULT mlp_cpu_rank_accuracy_spread: ours {max(accuracies) - min(accuracies):.2f} points, goal 0.50 points, ratio {0.5 / max(max(accuracies) - min(accuracies), 0.01):.2f}")
PY
