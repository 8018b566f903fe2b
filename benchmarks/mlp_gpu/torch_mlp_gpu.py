"""The PyTorch peer of ringtrain's GPU benchmarks (benchmarks/mlp_gpu/run.sh; --model cnn for
benchmarks/cnn_gpu/run.sh, the cnn of ringtrain's model.kind = "cnn").

Same data (ringtrain's Fashion-MNIST HDF5 shards, read with h5py), same model (784-1024-1024-10,
ReLU, PyTorch's default Linear initialisation, which ringtrain also uses), same optimizer (SGD,
momentum 0.9, cosine schedule per step), batch, epochs and precision (fp32: TF32 off). The peer
gets its best: the whole training set sits in GPU memory, batches are index_select of a random
permutation made on the GPU, the loss is summed on the GPU and read once per epoch (no host wait
per step), and time counts the training steps alone. Prints one JSON line per epoch, then (with
--step-only) the samples/s of the bare step on one resident batch, as mlp_gpu_step measures ours.
"""
import argparse
import glob
import json
import math
import os
import time

import h5py
import numpy as np
import torch


def load(directory, device):
    features, labels = [], []
    for path in sorted(glob.glob(os.path.join(directory, "*.h5"))):
        with h5py.File(path, "r") as shard:
            scale = float(shard.attrs["feature_scale"])
            x = shard["features"][...]
            features.append(x.reshape(x.shape[0], -1).astype(np.float32) * scale)
            labels.append(shard["labels"][...].astype(np.int64))
    return (torch.from_numpy(np.concatenate(features)).to(device),
            torch.from_numpy(np.concatenate(labels)).to(device))


def make_model(device, kind="mlp"):
    if kind == "cnn":  # conv32-pool-conv64-pool-fc128-fc10, as ringtrain's model.kind = "cnn"
        return torch.nn.Sequential(
            torch.nn.Unflatten(1, (1, 28, 28)),
            torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 128), torch.nn.ReLU(),
            torch.nn.Linear(128, 10)).to(device)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 1024), torch.nn.ReLU(),
        torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
        torch.nn.Linear(1024, 10)).to(device)


def bare_steps(args, device):
    """Forward, loss, backward and step on one resident random batch, as mlp_gpu_step does."""
    model = make_model(device, args.model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(args.batch, 784, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
    for _ in range(20):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    torch.cuda.synchronize()
    return args.steps * args.batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200, help="steps of the bare-step measurement")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    args = parser.parse_args()

    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(args.seed)
    train_x, train_y = load(os.path.join(args.data, "train"), device)
    test_x, test_y = load(os.path.join(args.data, "test"), device)
    model = make_model(device, args.model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    steps_per_epoch = train_x.shape[0] // args.batch
    total_steps = steps_per_epoch * args.epochs
    loss_fn = torch.nn.CrossEntropyLoss()
    step = 0
    for epoch in range(args.epochs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        order = torch.randperm(train_x.shape[0], device=device)
        loss_sum = torch.zeros((), device=device)
        for b in range(steps_per_epoch):
            index = order[b * args.batch:(b + 1) * args.batch]
            x, y = train_x.index_select(0, index), train_y.index_select(0, index)
            for group in optimizer.param_groups:
                group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            step += 1
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        with torch.no_grad():
            accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
        print(json.dumps({"epoch": epoch + 1, "train_loss": loss_sum.item() / steps_per_epoch,
                          "test_accuracy": accuracy, "train_seconds": seconds,
                          "samples_per_second": steps_per_epoch * args.batch / seconds}), flush=True)
    print(json.dumps({"step_samples_per_second": bare_steps(args, device)}), flush=True)


if __name__ == "__main__":
    main()
