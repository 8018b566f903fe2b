# Sourced by the benchmark scripts: run from the repository root, build if needed, the
# Fashion-MNIST shards, and an mpirun that works as root too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -x build/ringtrain && -x build/benchmarks/allreduce ]] || bash scripts/build.sh
export RINGTRAIN_DATA=${RINGTRAIN_DATA:-$PWD/datasets/fashion-mnist}
ensure_fashion_mnist() {
  [[ -d "$RINGTRAIN_DATA/train" ]] ||
    build/ringtrain shard --idx-dir /usr/share/datasets/fashion-mnist --output "$RINGTRAIN_DATA"
}
mpirun=(mpirun --oversubscribe)
[[ $(id -u) -eq 0 ]] && mpirun+=(--allow-run-as-root)
# The PyTorch CPU peer's OpenBLAS misdetects the AVX-512 processors these benchmarks first ran on
# ("Prescott", 2-3x slower) unless told the core; on a processor without AVX-512 its own detection
# is right, and forcing SkylakeX there ends Python on an illegal instruction.
torch_cpu_env=()
if grep -qw avx512f /proc/cpuinfo; then torch_cpu_env=(OPENBLAS_CORETYPE=SkylakeX); fi
