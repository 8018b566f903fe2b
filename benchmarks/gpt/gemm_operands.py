"""What bf16 operands give cuBLAS's matrix products over fp32 operands with bf16 arithmetic, at the
GPT-2 124M shapes (16,384 tokens; width 768): PyTorch's float32 matmul precision "medium" is
cuBLAS's fast-bf16 mode on fp32 operands (what ringtrain's bf16 products did before they rounded
their operands to bf16 themselves), "high" is TF32, and bf16 tensors are bf16 operands (what they do
now), each with fp32 sums. By hand on a GPU machine: python3 benchmarks/gpt/gemm_operands.py
"""
import torch


def milliseconds(product, repeats=50):
    for _ in range(5):
        product()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(repeats):
        product()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / repeats


print(torch.cuda.get_device_name(), "torch", torch.__version__)
print(f"{'m x k x n':22}{'fp32 ops, bf16 math':>22}{'tf32':>10}{'bf16 operands':>16}   TFLOP/s")
results = []
for m, k, n in [(16384, 768, 3072), (16384, 3072, 768), (16384, 768, 2304), (16384, 768, 50304)]:
    a, b = torch.randn(m, k, device="cuda"), torch.randn(k, n, device="cuda")
    torch.set_float32_matmul_precision("medium")
    fast_bf16 = milliseconds(lambda: a @ b)
    torch.set_float32_matmul_precision("high")
    tf32 = milliseconds(lambda: a @ b)
    a16, b16 = a.bfloat16(), b.bfloat16()
    bf16 = milliseconds(lambda: a16 @ b16)
    rate = lambda ms: 2 * m * k * n / ms / 1e9
    print(f"{f'{m} x {k} x {n}':22}{rate(fast_bf16):22.0f}{rate(tf32):10.0f}{rate(bf16):16.0f}")
    results.append((f"{m}x{k}x{n}", rate(bf16), rate(fast_bf16)))
for shape, ours, peer in results:
    print(f"RESULT gemm_bf16_operands_{shape}: ours {ours:.0f} TFLOP/s, fp32_operands_bf16_math {peer:.0f} TFLOP/s, "
          f"ratio {ours / peer:.2f}")
