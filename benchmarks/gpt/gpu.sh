#!/usr/bin/env bash
# The GPT on one GPU, beside PyTorch on the same card in the same run:
# 1. the Brown Corpus GPT of examples/brown_gpt (`ringtrain train`, fp32 and bf16 products; with bf16 the
#    tensor-core attention, by model.attention = "auto"): held-out bits per byte and tokens/s;
# 2. the GPT-2 124M shape (12 layers, 12 heads, width 768, context 1024, vocabulary 50304, batch 16,
#    AdamW) on a resident batch: ringtrain's gpt_gpu_step (bf16 and tf32 products, fused attention;
#    bf16 with the plain attention, bf16 with the tensor-core attention) against PyTorch eager and torch.compile with bf16 autocast:
#    tokens/s, memory, and where our step's time goes.
# Usage: benchmarks/gpt/gpu.sh BROWN_SHARDS   (by hand on a GPU machine; binaries from PATH, as a
# packed folder's env.sh sets it, else build/; python3 with PyTorch for CUDA)
set -euo pipefail
cd "$(dirname "$0")/../.."
shards=${1:?usage: benchmarks/gpt/gpu.sh BROWN_SHARDS}
ringtrain=$(command -v ringtrain || echo build/ringtrain)
step=$(command -v gpt_gpu_step || echo build/benchmarks/gpt_gpu_step)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

for precision in fp32 bf16; do
  echo "== ringtrain train examples/brown_gpt/gpt.toml on the GPU, $precision products"
  RINGTRAIN_DATA=$shards RINGTRAIN_CHECKPOINTS=$out/checkpoints-$precision "$ringtrain" train examples/brown_gpt/gpt.toml \
    --set runtime.device=cuda --set runtime.precision=$precision --set log.every=0 \
    --set log.metrics="$out/brown-$precision.jsonl"
done
shape=(12 12 768 1024 50304 16)
for run in "bf16 fused" "tf32 fused" "bf16 plain" "bf16 tensor_core"; do
  echo "== gpt_gpu_step ${shape[*]} $run"
  # A failed run is reported and left out of the table, the others still measured.
  "$step" "${shape[@]}" 10 $run | tee "$out/step-${run// /-}.txt" || echo "== gpt_gpu_step $run failed"
done
for mode in "--precision bf16" "--precision bf16 --compile" "--precision tf32"; do
  echo "== PyTorch $(python3 -c 'import torch; print(torch.__version__)') $mode"
  python3 benchmarks/gpt/torch_gpt.py --bench --layers 12 --heads 12 --width 768 --context 1024 --vocab 50304 \
    --batch 16 --steps 10 $mode | tee -a "$out/torch.jsonl"
done

python3 - "$out" <<'PY'
import json, math, sys
out = sys.argv[1]
def step_file(name):
    values = {"tps": float("nan"), "mem": float("nan")}
    for line in open(f"{out}/step-{name}.txt"):
        if line.startswith("tokens_per_second"): values["tps"] = float(line.split()[1])
        if line.startswith("memory_gib"): values["mem"] = float(line.split()[1])
    return values
peer = {r["mode"]: r for r in (json.loads(l) for l in open(f"{out}/torch.jsonl"))}
print(f"\n{'GPT-2 124M, batch 16 x 1024':34}{'tokens/s':>12}{'GiB':>8}")
for name in ["bf16-fused", "tf32-fused", "bf16-plain", "bf16-tensor_core"]:
    v = step_file(name)
    print(f"{'ringtrain ' + name:34}{v['tps']:12.0f}{v['mem']:8.1f}")
for mode, r in peer.items():
    print(f"{'PyTorch ' + mode:34}{r['tokens_per_second']:12.0f}{r['peak_allocated_gib']:8.1f}")
for precision in ["fp32", "bf16"]:
    rows = [r for r in (json.loads(l) for l in open(f"{out}/brown-{precision}.jsonl")) if r.get("kind", "epoch") == "epoch"]
    print(f"Brown GPT on the GPU, {precision} products: held-out {rows[-1]['test_loss'] / math.log(2):.4f} bits per byte, "
          f"{rows[-1]['samples_per_second'] * 128:.0f} tokens/s")
ours = step_file("bf16-fused")
for mode in ["compile bf16", "eager bf16"]:
    r = peer[mode]
    print(f"RESULT gpt2_124m_tokens_per_second_vs_{mode.replace(' ', '_')}: ours {ours['tps']:.0f} tokens/s, "
          f"pytorch {r['tokens_per_second']:.0f} tokens/s, ratio {ours['tps'] / r['tokens_per_second']:.2f}")
tensor_cores = step_file("bf16-tensor_core")
r = peer["compile bf16"]
print(f"RESULT gpt2_124m_tensor_core_attention_tokens_per_second_vs_compile_bf16: ours {tensor_cores['tps']:.0f} "
      f"tokens/s, pytorch {r['tokens_per_second']:.0f} tokens/s, ratio {tensor_cores['tps'] / r['tokens_per_second']:.2f}")
r = peer["compile bf16"]
print(f"RESULT gpt2_124m_memory: ours {ours['mem']:.1f} GiB, pytorch {r['peak_allocated_gib']:.1f} GiB, "
      f"ratio {r['peak_allocated_gib'] / ours['mem']:.2f}")
PY
