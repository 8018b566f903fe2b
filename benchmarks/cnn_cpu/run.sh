#!/usr/bin/env bash
# Fashion-MNIST CNN (conv32-pool-conv64-pool-fc128-fc10, batch 128, SGD momentum 0.9, lr 0.05,
# cosine) on the CPU: ringtrain in one process against PyTorch (Debian's python3-torch with
# OpenBLAS) on the same shards and thread count.
# Usage: benchmarks/cnn_cpu/run.sh [EPOCHS] [THREADS]      (run by hand; CI never runs it)
epochs=${1:-3}
threads=${2:-2}
bash "$(dirname "$0")/../../scripts/install-deps.sh" --bench
source "$(dirname "$0")/../common.sh"
ensure_fashion_mnist
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== ringtrain, 1 process, $threads threads"
build/ringtrain train examples/fashion_mnist/cnn.toml --set train.epochs="$epochs" \
  --set runtime.threads="$threads" --set log.metrics="$out/ringtrain.jsonl"
echo "== PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), $threads threads"
env "${torch_cpu_env[@]}" OMP_NUM_THREADS=$threads /usr/bin/python3 benchmarks/mlp_cpu/torch_mlp.py --model cnn \
  --data "$RINGTRAIN_DATA" --epochs "$epochs" --threads "$threads" | tee "$out/torch.jsonl"

echo "== where a step goes (one resident batch of 128, $threads threads)"
build/benchmarks/cnn_cpu_step 128 40 "$threads"

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def epochs(name): return [r for r in (json.loads(line) for line in open(f"{out}/{name}.jsonl")) if r.get("kind", "epoch") == "epoch"]
ours, peer = epochs("ringtrain"), epochs("torch")
def rate(rows): return statistics.median(r["samples_per_second"] for r in rows[1:] or rows)
r_ours, r_peer = rate(ours), rate(peer)
print(f"\n{'':28}{'ringtrain':>12}{'PyTorch':>12}{'ratio':>8}")
print(f"{'samples/s (median epoch)':28}{r_ours:12.0f}{r_peer:12.0f}{r_ours / r_peer:8.2f}")
print(f"{'final test accuracy %':28}{100 * ours[-1]['test_accuracy']:12.2f}{100 * peer[-1]['test_accuracy']:12.2f}")
print(f"RESULT cnn_cpu_samples_per_second: ours {r_ours:.0f} samples/s, pytorch {r_peer:.0f} samples/s, ratio {r_ours / r_peer:.2f}")
PY
