#!/usr/bin/env bash
# Causal attention alone on one GPU, GPT-2 124M's shape (batch 16, context 1024, width 768, 12
# heads of 64): ringtrain's plain, fused and tensor-core kernels against PyTorch's
# scaled_dot_product_attention in bf16 and fp32, forward and backward, in the same run.
# Usage: benchmarks/attention/run.sh [STEPS]   (by hand on a GPU machine; binaries from PATH, as a
# packed folder's env.sh sets it, else build/; python3 with PyTorch for CUDA)
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=${1:-20}
shape=(16 1024 768 12)
bench=$(command -v attention_bench || echo build/benchmarks/attention_bench)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
nvidia-smi --query-gpu=name --format=csv,noheader || true
"$bench" "${shape[@]}" "$steps" plain fused tensor_core | tee "$out/ours.txt"
python3 benchmarks/attention/torch_attention.py --batch "${shape[0]}" --context "${shape[1]}" --width "${shape[2]}" \
  --heads "${shape[3]}" --steps "$steps" | tee "$out/torch.jsonl"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
ours = {}
for line in open(f"{out}/ours.txt"):
    if line.startswith("ms "):
        _, name, forward, backward = line.split()
        ours[name] = (float(forward), float(backward))
peer = {r["dtype"]: r for r in (json.loads(l) for l in open(f"{out}/torch.jsonl"))}
print(f"\n{'forward + backward, ms':36}{'ours':>10}{'PyTorch':>10}{'ours/PyTorch':>14}")
for name, dtype in [("tensor_core", "bfloat16"), ("fused", "float32"), ("plain", "float32")]:
    if name in ours:
        total, theirs = sum(ours[name]), peer[dtype]["forward_ms"] + peer[dtype]["backward_ms"]
        print(f"{name + ' vs PyTorch ' + dtype:36}{total:10.2f}{theirs:10.2f}{total / theirs:14.2f}")
for name, dtype in [("tensor_core", "bfloat16"), ("fused", "float32")]:
    if name in ours:
        total, theirs = sum(ours[name]), peer[dtype]["forward_ms"] + peer[dtype]["backward_ms"]
        # times: peer / ours, so that above 1 is faster than PyTorch
        print(f"RESULT attention_{name}_forward_backward: ours {total:.3f} ms, pytorch_{dtype} {theirs:.3f} ms, "
              f"ratio {theirs / total:.2f}")
PY
