#!/usr/bin/env bash
# Where the GPT-2 124M step's time goes, kernel by kernel: Nsight Compute (ncu) times every kernel
# of gpt_gpu_step (3 warm-up steps and 2 more; each kernel's duration alone, the GPU's clocks and
# caches left as they are), and the table gives each kernel name's milliseconds per step, its
# launches per step and its share, largest first.
# Usage: benchmarks/gpt/kernel_profile.sh [PRECISION] [ATTENTION]   (defaults bf16 tensor_core; by
# hand on a GPU machine with ncu; gpt_gpu_step from PATH, as a packed folder's env.sh sets it, else build/)
set -euo pipefail
cd "$(dirname "$0")/../.."
precision=${1:-bf16}
attention=${2:-tensor_core}
step=$(command -v gpt_gpu_step || echo build/benchmarks/gpt_gpu_step)
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
steps=5  # gpt_gpu_step's 3 warm-up steps, 1 timed by phases, 1 timed whole
"$ncu" --csv --metrics gpu__time_duration.sum --clock-control none --cache-control none --log-file "$out/ncu.csv" \
  "$step" 12 12 768 1024 50304 16 1 "$precision" "$attention" >"$out/step.txt"
python3 - "$out/ncu.csv" "$steps" <<'PY'
import collections, csv, re, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 14][1:]
steps = int(sys.argv[2])
total, launches = collections.defaultdict(float), collections.Counter()
for r in rows:
    name = r[4].replace("(anonymous namespace)", "").replace("<unnamed>", "")
    name = re.sub(r"^(void |std::enable_if<[^>]*>::type )", "", name)
    if "cublasGemv" in name:
        name = "cuBLAS gemv"
    name = re.sub(r"\(.*", "", name)
    name = re.sub(r"<.*", "", name).replace("rt::kernels::cuda::", "").replace("::::", "::")[:70]
    assert r[13] == "ns", f"durations in {r[13]}"
    total[name] += float(r[14].replace(",", "")) / 1e6 / steps
    launches[name] += 1
step = sum(total.values())
print(f"{'kernel':72}{'ms/step':>9}{'launches':>10}{'share':>8}")
for name, ms in sorted(total.items(), key=lambda item: -item[1]):
    print(f"{name:72}{ms:9.3f}{launches[name] / steps:10.0f}{100 * ms / step:7.1f}%")
print(f"{'all kernels':72}{step:9.3f}")
PY
