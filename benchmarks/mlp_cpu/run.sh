#!/usr/bin/env bash
# Fashion-MNIST MLP (784-512-256-10, batch 128, SGD momentum 0.9, lr 0.05, cosine) on the CPU:
# ringtrain at -np 1 against PyTorch (Debian's python3-torch with OpenBLAS) on the same shards and
# thread count, beside the GEMM ceiling of one training step on this machine; the products by Eigen
# and by OpenBLAS (runtime.cpu_blas), the ceiling of each, and ours against the better ceiling.
# Usage: benchmarks/mlp_cpu/run.sh [EPOCHS] [THREADS]      (run by hand; CI never runs it)
epochs=${1:-10}
threads=${2:-2}
bash "$(dirname "$0")/../../scripts/install-deps.sh" --bench
source "$(dirname "$0")/../common.sh"
ensure_fashion_mnist
data=$RINGTRAIN_DATA
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for blas in eigen openblas; do
  echo "== ringtrain, 1 process, $threads threads, runtime.cpu_blas = $blas"
  RINGTRAIN_DATA=$data build/ringtrain train examples/fashion_mnist/mlp.toml --set train.epochs="$epochs" \
    --set runtime.threads="$threads" --set runtime.cpu_blas=$blas --set log.dir="$out/run-$blas" | tail -3
  cp "$out/run-$blas/metrics.jsonl" "$out/ringtrain-$blas.jsonl"
done

echo "== PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), $threads threads"
env "${torch_cpu_env[@]}" OMP_NUM_THREADS=$threads /usr/bin/python3 benchmarks/mlp_cpu/torch_mlp.py \
  --data "$data" --epochs "$epochs" --threads "$threads" | tee "$out/torch.jsonl"

for blas in eigen openblas; do
  echo "== GEMM ceiling of one step, $blas"
  GEMM_CEILING_BLAS=$blas build/benchmarks/gemm_ceiling 128 "$threads" 784 512 256 10 | tee "$out/ceiling-$blas.txt"
done

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def epochs(name):
    return [r for r in (json.loads(line) for line in open(f"{out}/{name}.jsonl")) if r.get("kind", "epoch") == "epoch"]
def ceiling(blas):
    return {k: float(v) for k, v in (line.split() for line in open(f"{out}/ceiling-{blas}.txt") if not line.startswith("gemm"))}
# Steady state: the median epoch after the first (which includes warm-up).
def rate(rows): return statistics.median(r["samples_per_second"] for r in rows[1:] or rows)
peer = epochs("torch")
runs = {blas: (rate(epochs(f"ringtrain-{blas}")), ceiling(blas)) for blas in ("eigen", "openblas")}
best_blas = max(runs, key=lambda b: runs[b][1]["ceiling_samples_per_second"])  # the better library's ceiling
ours_blas = max(runs, key=lambda b: runs[b][0])
r_ours, r_peer, r_ceiling = runs[ours_blas][0], rate(peer), runs[best_blas][1]["ceiling_samples_per_second"]
a_ours, a_peer = epochs(f"ringtrain-{ours_blas}")[-1]["test_accuracy"], peer[-1]["test_accuracy"]
print()
print(f"{'':34}{'eigen':>10}{'openblas':>10}")
print(f"{'ringtrain samples/s (median epoch)':34}{runs['eigen'][0]:10.0f}{runs['openblas'][0]:10.0f}")
print(f"{'GEMM ceiling samples/s':34}{runs['eigen'][1]['ceiling_samples_per_second']:10.0f}"
      f"{runs['openblas'][1]['ceiling_samples_per_second']:10.0f}")
print()
print(f"{'':28}{'ringtrain':>12}{'PyTorch':>12}{'ratio':>8}   (ringtrain with {ours_blas})")
print(f"{'samples/s (median epoch)':28}{r_ours:12.0f}{r_peer:12.0f}{r_ours / r_peer:8.2f}")
print(f"{'final test accuracy %':28}{100 * a_ours:12.2f}{100 * a_peer:12.2f}")
print(f"{'GEMM ceiling samples/s':28}{r_ceiling:12.0f}{'':12}{r_ours / r_ceiling:8.2f}   (the {best_blas} ceiling)")
flops = runs[best_blas][1]['flops_per_sample']
print(f"{'achieved GFLOP/s':28}{r_ours * flops / 1e9:12.1f}{r_peer * flops / 1e9:12.1f}")
print(f"RESULT mlp_cpu_samples_per_second: ours {r_ours:.0f} samples/s, pytorch {r_peer:.0f} samples/s, ratio {r_ours / r_peer:.2f}")
print(f"RESULT mlp_cpu_test_accuracy: ours {100 * a_ours:.2f} %, pytorch {100 * a_peer:.2f} %, ratio {a_ours / a_peer:.3f}")
print(f"RESULT mlp_cpu_gemm_ceiling_fraction: ours {r_ours:.0f} samples/s, ceiling {r_ceiling:.0f} samples/s, ratio {r_ours / r_ceiling:.2f}")
PY
