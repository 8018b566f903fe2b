#!/usr/bin/env bash
# The Brown Corpus GPT of examples/brown_gpt/gpt.toml on this machine's CPU, one rank with every
# core, against PyTorch (Debian's python3-torch) with the same model, initialisation, data,
# optimizer, schedule, clipping, batch and steps: the held-out loss in bits per byte and tokens/s.
# Usage: benchmarks/gpt/cpu.sh [STEPS]     (by hand; CI never runs it)
set -euo pipefail
source "$(dirname "$0")/../common.sh"
steps=${1:-600}
threads=$(nproc)
examples/brown_gpt/prepare.sh
data=$PWD/datasets/brown/shards
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== ringtrain, 1 rank, $threads threads, $steps steps"
RINGTRAIN_DATA=$data RINGTRAIN_CHECKPOINTS=$out/checkpoints build/ringtrain train examples/brown_gpt/gpt.toml \
  --set train.max_steps="$steps" --set runtime.threads="$threads" --set log.metrics="$out/ringtrain.jsonl"
echo "== PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), $threads threads"
env "${torch_cpu_env[@]}" OMP_NUM_THREADS=$threads /usr/bin/python3 benchmarks/gpt/torch_gpt.py --train "$data" \
  --layers 4 --heads 4 --width 128 --batch 32 --steps "$steps" --lr 0.003 --warmup 60 --weight-decay 0.1 --clip 1.0 \
  --threads "$threads" | tee "$out/torch.jsonl"

python3 - "$out" <<'PY'
import json, math, sys
out = sys.argv[1]
ours = [r for r in (json.loads(l) for l in open(f"{out}/ringtrain.jsonl")) if r.get("kind", "epoch") == "epoch"][-1]
peer = [json.loads(l) for l in open(f"{out}/torch.jsonl") if "test_bits" in l][-1]
context = 128
bits_ours, bits_peer = ours["test_loss"] / math.log(2), peer["test_bits"]
tps_ours, tps_peer = ours["samples_per_second"] * context, peer["tokens_per_second"]
print(f"\n{'':30}{'ringtrain':>12}{'PyTorch':>12}{'ratio':>8}")
print(f"{'held-out bits per byte':30}{bits_ours:12.4f}{bits_peer:12.4f}{bits_ours / bits_peer:8.3f}")
print(f"{'training tokens/s':30}{tps_ours:12.0f}{tps_peer:12.0f}{tps_ours / tps_peer:8.2f}")
print(f"RESULT gpt_cpu_test_bits_per_byte: ours {bits_ours:.4f} bits, pytorch {bits_peer:.4f} bits, ratio {bits_peer / bits_ours:.3f}")
print(f"RESULT gpt_cpu_tokens_per_second: ours {tps_ours:.0f} tokens/s, pytorch {tps_peer:.0f} tokens/s, ratio {tps_ours / tps_peer:.2f}")
PY
