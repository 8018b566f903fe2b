"""The PyTorch peer of ringtrain's GPT (model.kind = "gpt", core/models.h), for two benchmarks:

--train DATA (benchmarks/gpt/cpu.sh): trains on ringtrain's token shards (read with h5py) with the
same model, initialisation, optimizer, schedule, clipping, batch and steps as a ringtrain
config, then reports the held-out loss in bits per token (byte-level: bits per byte).

--bench (benchmarks/gpt/gpu.sh): tokens/s of the training step on one resident batch of random
tokens, eager or torch.compile, with bf16 autocast or TF32, and the peak memory.

The model is nanoGPT's GPT-2: token + position embedding, pre-norm blocks (LayerNorm, Linear to
q/k/v, causal attention, Linear; LayerNorm, Linear to 4x, GELU tanh, Linear), a final LayerNorm,
an output head tied to the token embedding; weights normal(0.02), the residual projections
normal(0.02/sqrt(2 layers)), biases zero.
"""
import argparse
import glob
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F


def causal_attention(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):  # PyTorch 2: the flash / memory-efficient kernels
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]  # PyTorch 1.13 (Debian's): the plain form
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v


class Block(torch.nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = torch.nn.LayerNorm(width)
        self.qkv = torch.nn.Linear(width, 3 * width)
        self.proj = torch.nn.Linear(width, width)
        self.ln2 = torch.nn.LayerNorm(width)
        self.fc = torch.nn.Linear(width, 4 * width)
        self.fc_proj = torch.nn.Linear(4 * width, width)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = causal_attention(q, k, v)
        x = x + self.proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class Gpt(torch.nn.Module):
    def __init__(self, vocab, context, layers, heads, width):
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, width)
        self.wpe = torch.nn.Embedding(context, width)
        self.blocks = torch.nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(width)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                torch.nn.init.zeros_(p)
            elif "ln" in name:
                continue
            elif name.endswith("proj.weight"):
                torch.nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))
            else:
                torch.nn.init.normal_(p, std=0.02)

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.wte(tokens) + self.wpe(torch.arange(T, device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.t()  # tied head


def load_windows(directory):
    windows = []
    import h5py
    for path in sorted(glob.glob(os.path.join(directory, "*.h5"))):
        with h5py.File(path, "r") as shard:
            windows.append(shard["features"][...])
    return torch.from_numpy(np.concatenate(windows).astype(np.int64))


def lr_at(step, args):
    # ringtrain's scheduled_lr: linear warmup, then cosine to 0 over the remaining steps.
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(args.steps - args.warmup, 1)
    return args.lr * 0.5 * (1 + math.cos(math.pi * progress))


def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train_windows = load_windows(os.path.join(args.train, "train"))
    test_windows = load_windows(os.path.join(args.train, "test"))
    context = train_windows.shape[1] - 1
    model = Gpt(256, context, args.layers, args.heads, args.width)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
                                  weight_decay=args.weight_decay)
    generator = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(train_windows.shape[0], generator=generator)
    start = time.perf_counter()
    position = 0
    for step in range(args.steps):
        if position + args.batch > order.shape[0]:
            order, position = torch.randperm(train_windows.shape[0], generator=generator), 0
        batch = train_windows[order[position:position + args.batch]]
        position += args.batch
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        if (step + 1) % 50 == 0:
            print(json.dumps({"step": step + 1, "loss": loss.item()}), flush=True)
    seconds = time.perf_counter() - start
    total, count = 0.0, 0
    with torch.no_grad():
        for b in range(0, test_windows.shape[0], 256):
            batch = test_windows[b:b + 256]
            logits = model(batch[:, :-1])
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1),
                                     reduction="sum").item()
            count += batch[:, 1:].numel()
    print(json.dumps({"steps": args.steps, "test_loss": total / count, "test_bits": total / count / math.log(2),
                      "train_seconds": seconds,
                      "tokens_per_second": args.steps * args.batch * context / seconds}), flush=True)


def bench(args):
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
    torch.manual_seed(args.seed)
    model = Gpt(args.vocab, args.context, args.layers, args.heads, args.width).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    forward = torch.compile(model) if args.compile else model
    tokens = torch.randint(0, args.vocab, (args.batch, args.context + 1), device=device)
    x, y = tokens[:, :-1], tokens[:, 1:]

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            logits = forward(x)
            loss = F.cross_entropy(logits.float().view(-1, args.vocab), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / args.steps
    free, total = torch.cuda.mem_get_info()
    print(json.dumps({"mode": ("compile" if args.compile else "eager") + " " + args.precision,
                      "tokens_per_second": args.batch * args.context / seconds, "step_ms": 1000 * seconds,
                      "peak_allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
                      "device_in_use_gib": (total - free) / 2**30}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", help="ringtrain token shards (DIR/train, DIR/test)")
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--context", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=50304)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="bf16")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    if args.train:
        train(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
