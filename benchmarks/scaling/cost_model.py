"""A cost model of data-parallel scaling: predicts the efficiency of synchronous data-parallel
training at N GPUs from the compute time of one step, the gradient bytes, and the ring
all-reduce formula, for flat and hierarchical all-reduce, with and without overlap.
docs/scaling-model.md explains it and shows its output. Run: python3 benchmarks/scaling/cost_model.py

  ring all-reduce of S bytes over n ranks, per-link bandwidth B, per-message latency a:
      T = 2 (n - 1) a + 2 (n - 1) / n * S / B          (bus traffic 2(n-1)/n * S per rank)
  hierarchical, g GPUs per node (NVLink inside, one NIC per node shared by its g GPUs):
      T = 2 (g - 1) / g * S / B_nvlink  +  2 (N - 1) a + 2 (N - 1) / N * S / B_nic,   N = n / g nodes
  buckets of size b multiply the latency term by ceil(S / b);
  overlap hides communication under the part of backward that follows each bucket (a fraction h
  of backward, which is about 2/3 of the step): exposed = max(T_last_bucket, T - h * 2/3 * T_compute)
  efficiency = T_compute / (T_compute + exposed)
"""
import math

GBIT = 1e9 / 8  # bytes per second in one Gbit/s

NETWORKS = {
    "25 Gbit/s Ethernet": dict(nic=25 * GBIT, latency=25e-6),
    "400 Gbit/s InfiniBand": dict(nic=400 * GBIT, latency=3e-6),
}
NVLINK = 300e9        # bytes/s of bus bandwidth inside an 8-GPU node (H100 SXM NVLink all-reduce, order of magnitude)
GPUS_PER_NODE = 8
BUCKET = 25 * 2**20
HIDDEN_FRACTION = 0.8  # of backward after the first bucket is ready

MODELS = {
    # name: parameters, compute seconds per step per GPU, where that compute time comes from
    "ResNet-50 (25.6 M params, fp32 grads)": (25.6e6, 4, 0.085,
        "assumed: batch 256 at about 3,000 images/s per H100; not measured by ringtrain yet"),
    "GPT-2 small (124 M params, bf16 grads)": (124e6, 2, 16 * 1024 / 310e3,
        "measured: PyTorch 2.11 eager, 310 K tokens/s at batch 16 x 1024 on an H100"),
}


def ring(size_bytes, ranks, bandwidth, latency, messages=1):
    if ranks <= 1:
        return 0.0
    return 2 * (ranks - 1) * latency * messages + 2 * (ranks - 1) / ranks * size_bytes / bandwidth


def communication(size_bytes, gpus, network, hierarchical):
    messages = math.ceil(size_bytes / BUCKET)
    if not hierarchical or gpus <= GPUS_PER_NODE:
        if gpus <= GPUS_PER_NODE:  # one node: NVLink
            return ring(size_bytes, gpus, NVLINK, 2e-6, messages)
        # flat ring across nodes: every GPU's traffic crosses its node's shared NIC
        return ring(size_bytes, gpus, network["nic"] / GPUS_PER_NODE, network["latency"], messages)
    nodes = gpus // GPUS_PER_NODE
    inside = ring(size_bytes, GPUS_PER_NODE, NVLINK, 2e-6, messages)
    return inside + ring(size_bytes, nodes, network["nic"], network["latency"], messages)


def efficiency(compute, comm, size_bytes, overlap):
    if overlap:
        last_bucket = comm * min(1.0, BUCKET / size_bytes)
        exposed = max(last_bucket, comm - HIDDEN_FRACTION * (2 / 3) * compute)
    else:
        exposed = comm
    return compute / (compute + exposed)


def main():
    gpu_counts = [8, 16, 32, 64, 128, 256, 512]
    for model, (params, bytes_per_grad, compute, source) in MODELS.items():
        size = params * bytes_per_grad
        print(f"\n{model}: {size / 1e6:.0f} MB of gradients, {compute * 1e3:.1f} ms compute per step ({source})")
        for network_name, network in NETWORKS.items():
            print(f"  {network_name}, {GPUS_PER_NODE} GPUs per node (flat: ranks placed round-robin, every hop crosses a NIC shared by {GPUS_PER_NODE} GPUs)")
            print(f"  {'GPUs':>6} {'flat':>8} {'flat+ovl':>9} {'hier':>8} {'hier+ovl':>9}   comm ms (hier)")
            for gpus in gpu_counts:
                flat = communication(size, gpus, network, False)
                hier = communication(size, gpus, network, True)
                print(f"  {gpus:6d} {efficiency(compute, flat, size, False):8.2f} {efficiency(compute, flat, size, True):9.2f}"
                      f" {efficiency(compute, hier, size, False):8.2f} {efficiency(compute, hier, size, True):9.2f}"
                      f"   {hier * 1e3:8.1f}")


if __name__ == "__main__":
    main()
