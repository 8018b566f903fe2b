#!/usr/bin/env python3
"""Writes NumPy arrays as ringtrain shards (docs/shard-format.md), with h5py.

A recipe for data that `ringtrain shard` does not read: build `features` [n, ...] (uint8 or
float32) and integer `labels` [n] any way you like, then call write_shards(). Each shard is
written as NAME.h5.partial and renamed when complete, so a loader never sees half a shard.

    python3 examples/python/write_shards.py --demo OUT_DIR   # writes a small learnable set

Needs Debian's python3-numpy and python3-h5py.
"""
import argparse
import os

import h5py
import numpy as np

CHUNK_ROWS = 1024  # the writer's chunking: whole rows, along the samples


def write_shard(path, features, labels, num_classes, feature_scale=1.0):
    """One shard: `features` uint8 or float32 [n, ...], `labels` class ids in [0, num_classes)."""
    features = np.ascontiguousarray(features)
    if features.dtype not in (np.uint8, np.float32):
        raise ValueError(f"features must be uint8 or float32, not {features.dtype}")
    labels = np.ascontiguousarray(labels, dtype="<i4")
    if len(labels) != len(features) or len(labels) == 0:
        raise ValueError(f"{len(features)} feature rows and {len(labels)} labels")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes})")
    rows = min(CHUNK_ROWS, len(labels))
    partial = path + ".partial"
    with h5py.File(partial, "w") as f:
        f.create_dataset("features", data=features.astype(features.dtype.newbyteorder("<")),
                         chunks=(rows,) + features.shape[1:], fletcher32=True)
        f.create_dataset("labels", data=labels, chunks=(rows,), fletcher32=True)
        f.attrs["format"] = np.bytes_("ringtrain-shard")  # a fixed-length string
        f.attrs["format_version"] = np.int64(1)
        f.attrs["num_samples"] = np.int64(len(labels))
        f.attrs["feature_shape"] = np.array(features.shape[1:], dtype=np.int64)
        f.attrs["num_classes"] = np.int64(num_classes)
        f.attrs["feature_scale"] = np.float64(feature_scale)
    os.replace(partial, path)


def write_shards(directory, features, labels, num_classes, shards=1, name="shard", feature_scale=1.0):
    """The rows cut into `shards` near-equal shards DIRECTORY/NAME-00000.h5 ...; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for k, rows in enumerate(np.array_split(np.arange(len(labels)), shards)):
        path = os.path.join(directory, f"{name}-{k:05d}.h5")
        write_shard(path, features[rows], labels[rows], num_classes, feature_scale)
        paths.append(path)
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", metavar="OUT_DIR", required=True,
                        help="write OUT_DIR/train (3 shards) and OUT_DIR/test of a 4-class problem")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 3, size=(4, 8)).astype(np.float32)
    for split, n, shards in (("train", 2000, 3), ("test", 400, 1)):
        labels = rng.integers(0, 4, size=n)
        features = (centres[labels] + rng.normal(0, 1, size=(n, 8))).astype(np.float32)
        print(*write_shards(os.path.join(args.demo, split), features, labels, 4, shards, split), sep="\n")


if __name__ == "__main__":
    main()
