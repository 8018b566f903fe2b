#!/usr/bin/env bash
# MLP 784-1024-1024-10 on Fashion-MNIST, batch 1024, fp32, on one GPU: `ringtrain train` (streaming
# its HDF5 shards, as a job does) against PyTorch (the whole set in GPU memory, its best case) on
# the same card in the same run; then the bare training step of each on one resident batch, and
# where our step's time goes (mlp_gpu_step, CUDA events per phase).
# Usage: benchmarks/mlp_gpu/run.sh [EPOCHS]     (run by hand on a GPU machine; CI never runs it)
# Uses `ringtrain` and `mlp_gpu_step` from PATH if there (a packed folder's env.sh puts them
# there), else from build/; python3 must have PyTorch with CUDA and h5py. The IDX files come from
# $FASHION_MNIST_IDX (default: Debian's dataset-fashion-mnist).
epochs=${1:-5}
source "$(dirname "$0")/../gpu_common.sh"
step=$(command -v mlp_gpu_step || echo build/benchmarks/mlp_gpu_step)

echo "== ringtrain train, 1 GPU, $epochs epochs"
"$ringtrain" train benchmarks/mlp_gpu/mlp_gpu.toml --set train.epochs="$epochs" --set log.metrics="$out/ringtrain.jsonl"
echo "== ringtrain: the bare step on a resident batch, per phase"
"$step" 1024 200 fp32 | tee "$out/step.txt"
echo "== PyTorch $(python3 -c 'import torch; print(torch.__version__)')"
python3 benchmarks/mlp_gpu/torch_mlp_gpu.py --data "$RINGTRAIN_DATA" --epochs "$epochs" | tee "$out/torch.jsonl"

python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def lines(name): return [r for r in (json.loads(line) for line in open(f"{out}/{name}.jsonl")) if r.get("kind", "epoch") == "epoch"]
ours, peer = lines("ringtrain"), lines("torch")
peer_step = [r for r in peer if "step_samples_per_second" in r][0]["step_samples_per_second"]
peer = [r for r in peer if "epoch" in r]
our_step = float([l.split()[1] for l in open(f"{out}/step.txt") if l.startswith("step_samples_per_second")][0])
# Steady state: the median epoch after the first (which includes warm-up).
def rate(rows): return statistics.median(r["samples_per_second"] for r in rows[1:] or rows)
r_ours, r_peer = rate(ours), rate(peer)
a_ours, a_peer = ours[-1]["test_accuracy"], peer[-1]["test_accuracy"]
print()
print(f"{'':34}{'ringtrain':>12}{'PyTorch':>12}{'ratio':>8}")
print(f"{'training samples/s (median epoch)':34}{r_ours:12.0f}{r_peer:12.0f}{r_ours / r_peer:8.2f}")
print(f"{'bare step samples/s':34}{our_step:12.0f}{peer_step:12.0f}{our_step / peer_step:8.2f}")
print(f"{'final test accuracy %':34}{100 * a_ours:12.2f}{100 * a_peer:12.2f}")
print(f"RESULT mlp_gpu_training_samples_per_second: ours {r_ours:.0f} samples/s, pytorch {r_peer:.0f} samples/s, ratio {r_ours / r_peer:.2f}")
print(f"RESULT mlp_gpu_step_samples_per_second: ours {our_step:.0f} samples/s, pytorch {peer_step:.0f} samples/s, ratio {our_step / peer_step:.2f}")
print(f"RESULT mlp_gpu_test_accuracy: ours {100 * a_ours:.2f} %, pytorch {100 * a_peer:.2f} %, ratio {a_ours / a_peer:.3f}")
PY
