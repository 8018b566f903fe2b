#!/usr/bin/env bash
# The Fashion-MNIST CNN (conv32-pool-conv64-pool-fc128-fc10) on one GPU, batch 256, fp32:
# `ringtrain train` streaming its shards against PyTorch with the data in GPU memory, same card,
# same run. Usage: benchmarks/cnn_gpu/run.sh [EPOCHS]   (by hand on a GPU machine; see
# benchmarks/mlp_gpu/run.sh for where the binaries and data come from)
epochs=${1:-4}
source "$(dirname "$0")/../gpu_common.sh"
"$ringtrain" train examples/fashion_mnist/cnn.toml --set runtime.device=cuda --set train.global_batch=256 \
  --set train.epochs="$epochs" --set log.metrics="$out/ringtrain.jsonl"
python3 benchmarks/mlp_gpu/torch_mlp_gpu.py --model cnn --data "$RINGTRAIN_DATA" --epochs "$epochs" --batch 256 \
  --lr 0.05 | tee "$out/torch.jsonl"
python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def lines(name): return [r for r in (json.loads(line) for line in open(f"{out}/{name}.jsonl")) if r.get("kind", "epoch") == "epoch"]
ours = lines("ringtrain")
peer_all = lines("torch")
peer = [r for r in peer_all if "epoch" in r]
peer_step = [r for r in peer_all if "step_samples_per_second" in r][0]["step_samples_per_second"]
def rate(rows): return statistics.median(r["samples_per_second"] for r in rows[1:] or rows)
r_ours, r_peer = rate(ours), rate(peer)
print(f"\n{'':34}{'ringtrain':>12}{'PyTorch':>12}{'ratio':>8}")
print(f"{'training samples/s (median epoch)':34}{r_ours:12.0f}{r_peer:12.0f}{r_ours / r_peer:8.2f}")
print(f"{'PyTorch bare step samples/s':34}{'':12}{peer_step:12.0f}")
print(f"{'final test accuracy %':34}{100 * ours[-1]['test_accuracy']:12.2f}{100 * peer[-1]['test_accuracy']:12.2f}")
print(f"RESULT cnn_gpu_training_samples_per_second: ours {r_ours:.0f} samples/s, pytorch {r_peer:.0f} samples/s, ratio {r_ours / r_peer:.2f}")
PY
