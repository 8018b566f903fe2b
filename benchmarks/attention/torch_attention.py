"""The PyTorch peer of benchmarks/attention: causal scaled_dot_product_attention (PyTorch 2's flash
attention on a recent GPU) forward and backward at one shape, in bf16 (what its flash kernels take;
ringtrain's tensor-core kernels round to bf16 too) and fp32, ms per call over STEPS calls after
warm-up; one JSON line per dtype."""
import argparse
import json

import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser()
for name in ["batch", "context", "width", "heads", "steps"]:
    parser.add_argument(f"--{name}", type=int, required=True)
args = parser.parse_args()
d = args.width // args.heads
for dtype in [torch.bfloat16, torch.float32]:
    shape = (args.batch, args.heads, args.context, d)
    q, k, v = (torch.rand(shape, device="cuda", dtype=dtype, requires_grad=True) for _ in range(3))
    dy = torch.rand(shape, device="cuda", dtype=dtype)

    def forward():
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    y = forward()
    for _ in range(3):
        y = forward()
        y.backward(dy)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(args.steps):
        y = forward()
    end.record()
    torch.cuda.synchronize()
    forward_ms = start.elapsed_time(end) / args.steps
    # backward alone: a fresh graph each call, its forward outside the timed span
    ys = [forward() for _ in range(args.steps)]
    torch.cuda.synchronize()
    start.record()
    for y in ys:
        y.backward(dy)
    end.record()
    torch.cuda.synchronize()
    backward_ms = start.elapsed_time(end) / args.steps
    print(json.dumps({"dtype": str(dtype).replace("torch.", ""), "forward_ms": forward_ms,
                      "backward_ms": backward_ms, "torch": torch.__version__}))
