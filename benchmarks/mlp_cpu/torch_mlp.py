"""The PyTorch peer of ringtrain's Fashion-MNIST CPU benchmarks (benchmarks/mlp_cpu/run.sh, and with
--model cnn benchmarks/cnn_cpu/run.sh).

Same data (ringtrain's HDF5 shards, read with h5py), same model (784-512-256-10 with ReLU, or the
cnn conv32-pool-conv64-pool-fc128-fc10 with 3x3 convolutions, padding 1, ReLU and 2x2 max pooling;
PyTorch's default initialisation, which ringtrain's uniform +-1/sqrt(fan_in) follows), same optimizer (SGD, momentum, cosine
schedule per step), same batch and epochs. The peer gets its best: the whole training set sits in
one tensor, batches are index_select of a random permutation (no DataLoader), and time is counted
for the training steps alone, as ringtrain counts it. Prints one JSON line per epoch.
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


def load(directory):
    features, labels = [], []
    for path in sorted(glob.glob(os.path.join(directory, "*.h5"))):
        with h5py.File(path, "r") as shard:
            scale = float(shard.attrs["feature_scale"])
            x = shard["features"][...]
            features.append(x.reshape(x.shape[0], -1).astype(np.float32) * scale)
            labels.append(shard["labels"][...].astype(np.int64))
    return torch.from_numpy(np.concatenate(features)), torch.from_numpy(np.concatenate(labels))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y = load(os.path.join(args.data, "train"))
    test_x, test_y = load(os.path.join(args.data, "test"))
    if args.model == "cnn":
        train_x, test_x = train_x.reshape(-1, 1, 28, 28), test_x.reshape(-1, 1, 28, 28)
        model = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    else:
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 512), torch.nn.ReLU(),
            torch.nn.Linear(512, 256), torch.nn.ReLU(),
            torch.nn.Linear(256, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    steps_per_epoch = train_x.shape[0] // args.batch
    total_steps = steps_per_epoch * args.epochs
    loss_fn = torch.nn.CrossEntropyLoss()
    step = 0
    for epoch in range(args.epochs):
        order = torch.randperm(train_x.shape[0])
        model.train()
        start = time.perf_counter()
        loss_sum = 0.0
        for b in range(steps_per_epoch):
            index = order[b * args.batch:(b + 1) * args.batch]
            x, y = train_x.index_select(0, index), train_y.index_select(0, index)
            for group in optimizer.param_groups:
                group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item()
            step += 1
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
        print(json.dumps({"epoch": epoch + 1, "train_loss": loss_sum / steps_per_epoch,
                          "test_accuracy": accuracy, "train_seconds": seconds,
                          "samples_per_second": steps_per_epoch * args.batch / seconds}), flush=True)


if __name__ == "__main__":
    main()
