#!/usr/bin/env bash
# The checks that need a GPU, for a GPU machine where ringtrain's binaries are on PATH (a build's
# or a folder of binaries built elsewhere): the GPU test binaries at 1, 2 and 4 ranks (ranks share
# the GPU where there are fewer GPUs), the Fashion-MNIST examples on the GPU (the MLP at 1 and 2
# ranks, the CNN), the GPT-2 124M step with each fused attention and kernel by kernel, attention
# alone against PyTorch (benchmarks/attention), benchmarks/mlp_gpu and cnn_gpu,
# and the overlap benchmark with cores to spare (the GPU machine's).
# Usage: scripts/gpu-checks.sh IDX_DIR [quick]    (IDX_DIR: the Fashion-MNIST IDX files)
# quick: only what matters most when GPU time is short (some minutes): the GPU test binaries at
# one rank and the trainer's at two, then the GPT-2 124M step (bf16, tensor-core attention, with
# and without the bf16 activations) beside PyTorch eager and torch.compile on the same card.
# Each check is time-bounded; the exit status is the number of checks that failed.
set -uo pipefail
cd "$(dirname "$0")/.."
idx=${1:?usage: scripts/gpu-checks.sh IDX_DIR [quick]}
mode=${2:-all}
failures=0
check() {
  local limit=$1
  shift
  echo "=== $*"
  local start=$SECONDS
  timeout "$limit" "$@"
  local rc=$?
  echo "=== exit $rc after $((SECONDS - start)) s: $*"
  [[ $rc -eq 0 ]] || failures=$((failures + 1))
}
# No binding: a rank's loader and communication threads get cores of their own.
launcher=(mpirun --oversubscribe --mca btl_vader_single_copy_mechanism none)
[[ $(id -u) -eq 0 ]] && launcher+=(--allow-run-as-root)
mpirun=("${launcher[@]}" --bind-to none)
nvidia-smi -L

check 120 kernels_cuda_test
check 120 core_cuda_test
if [[ $mode == quick ]]; then
  check 180 "${mpirun[@]}" --timeout 170 -np 2 training_cuda_mpi_test
  check 120 gpt_gpu_step 12 12 768 1024 50304 16 10 bf16 tensor_core
  check 120 gpt_gpu_step 12 12 768 1024 50304 16 10 bf16 tensor_core fp32-activations
  for compile in "" --compile; do
    check 240 python3 benchmarks/gpt/torch_gpt.py --bench --layers 12 --heads 12 --width 768 --context 1024 \
      --vocab 50304 --batch 16 --steps 10 --precision bf16 $compile
  done
  echo "=== checks failed: $failures"
  exit "$failures"
fi
# The kernels under the memory checker, and the tensor-core attention under the race checker.
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
check 300 "$sanitizer" --tool memcheck --error-exitcode 1 kernels_cuda_test --gtest_brief=1
check 120 "$sanitizer" --tool racecheck --error-exitcode 1 kernels_cuda_test --gtest_brief=1 --gtest_filter='*TensorCores*'
for ranks in 1 2 4; do check 120 "${mpirun[@]}" --timeout 100 -np "$ranks" comm_cuda_mpi_test; done
for ranks in 2 4; do check 180 "${mpirun[@]}" --timeout 170 -np "$ranks" training_cuda_mpi_test; done
# The GPT-2 124M step with the fused attention and with the tensor-core one (their PyTorch peer:
# benchmarks/gpt/gpu.sh); the tensor-core one also with the layer norms', GELUs' and loss gradient's
# stores kept fp32, and with the bias added after the products instead of in their epilogue.
for attention in fused tensor_core; do check 120 gpt_gpu_step 12 12 768 1024 50304 16 10 bf16 "$attention"; done
check 120 gpt_gpu_step 12 12 768 1024 50304 16 10 bf16 tensor_core fp32-product-inputs
check 120 gpt_gpu_step 12 12 768 1024 50304 16 10 bf16 tensor_core bias-kernel
check 120 gpt_gpu_step 12 12 768 1024 50304 16 10 bf16 tensor_core fp32-activations
# Attention alone, each algorithm beside PyTorch's scaled_dot_product_attention.
check 180 bash benchmarks/attention/run.sh 20
# The GPT-2 124M step kernel by kernel, and what bf16 operands give cuBLAS's products.
check 240 bash benchmarks/gpt/kernel_profile.sh bf16 tensor_core
check 120 python3 benchmarks/gpt/gemm_operands.py

export RINGTRAIN_DATA=$PWD/datasets/fashion-mnist
[[ -d "$RINGTRAIN_DATA/train" ]] ||
  check 120 ringtrain shard --idx-dir "$idx" --output "$RINGTRAIN_DATA" --train-shards 8 --test-shards 2
for ranks in 1 2; do
  check 180 "${mpirun[@]}" -np "$ranks" ringtrain train examples/fashion_mnist/mlp.toml --set runtime.device=cuda
done
check 180 ringtrain train examples/fashion_mnist/cnn.toml --set runtime.device=cuda
check 60 loader_bench "$RINGTRAIN_DATA/train" 1024 4 stored  # what the loader alone delivers here
# The loader against the disk where cores are to spare: cat of the shards against one epoch of the loader
# (batch 128, stored bytes, reading the files itself), from the page cache, three rounds.
local_ratio() {
  local bytes start end round
  bytes=$(du -cb "$RINGTRAIN_DATA"/train/*.h5 | tail -1 | cut -f1)
  for round in 1 2 3; do
    start=$(date +%s.%N); cat "$RINGTRAIN_DATA"/train/*.h5 >/dev/null; end=$(date +%s.%N)
    echo "cat $(python3 -c "print(round($bytes / ($end - $start) / 1e6, 1))") MB/s;" \
      "$(loader_bench "$RINGTRAIN_DATA/train" 128 1 stored 0 | tail -1)"
  done
}
export -f local_ratio  # timeout runs programs, not functions
check 60 bash -c local_ratio
FASHION_MNIST_IDX=$idx check 300 bash benchmarks/mlp_gpu/run.sh 5
FASHION_MNIST_IDX=$idx check 300 bash benchmarks/cnn_gpu/run.sh 4

# Issue-4 overlap: 2 ranks with a core each for math and for communication, and bound to one core each.
for bucket in 25 4 1; do
  check 60 "${mpirun[@]}" -np 2 overlap 32 60 "$bucket" 784 1024 1024 1024 10
done
check 60 "${launcher[@]}" --bind-to core -np 2 overlap 32 60 25 784 1024 1024 1024 10
# A model whose first layer, whose gradients are final only when backward ends, holds 4% of the
# gradient bytes (27% above): what overlap can hide is not capped by it.
for bucket in 4 1; do
  check 60 "${mpirun[@]}" -np 2 overlap 32 40 "$bucket" 784 256 1536 1536 1536 10
done
echo "=== checks failed: $failures"
exit "$failures"
