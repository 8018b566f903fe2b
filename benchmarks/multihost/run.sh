#!/usr/bin/env bash
# Across hosts against one host: all-reduce bandwidth (ours and raw MPI_Allreduce) and Fashion-MNIST
# training samples/s, 4 ranks as 4 pretend hosts x 1 (network namespaces, TCP over veth, see
# scripts/netns-hosts.sh) and as 4 ranks on this one host (shared memory). Needs root.
# Usage: benchmarks/multihost/run.sh          (run by hand, never by CI)
source "$(dirname "$0")/../common.sh"
ensure_fashion_mnist
out=$(mktemp -d)
trap 'bash scripts/netns-hosts.sh down; rm -rf "$out"' EXIT
bash scripts/netns-hosts.sh up 4
printf "rt-h1 slots=1\nrt-h2 slots=1\nrt-h3 slots=1\nrt-h4 slots=1\n" > "$out/hosts"
train=(build/ringtrain train examples/fashion_mnist/mlp.toml --set train.epochs=3 --set runtime.threads=1)
export OMPI_MCA_mpi_yield_when_idle=1   # 4 ranks share 2 cores in both layouts

echo "== 4 ranks on one host (shared memory)"
"${mpirun[@]}" -np 4 --bind-to none build/benchmarks/allreduce | tee "$out/local.txt"
"${mpirun[@]}" -np 4 --bind-to none -x RINGTRAIN_DATA "${train[@]}" --set log.metrics="$out/local.jsonl"
echo "== 4 hosts x 1 rank (TCP over veth)"
(
  source scripts/netns-mpi-env.sh
  mpirun --hostfile "$out/hosts" build/benchmarks/allreduce | tee "$out/hosts.txt"
  mpirun --hostfile "$out/hosts" -x RINGTRAIN_DATA "${train[@]}" --set log.metrics="$out/hosts.jsonl"
)

python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def busbw(name):
    # allreduce's table: bytes, raw algbw, raw busbw, ours algbw, ours busbw, ratio.
    rows = {}
    for line in open(f"{out}/{name}.txt"):
        parts = line.split()
        if parts and parts[0].isdigit():
            rows[int(parts[0])] = float(parts[4])
    return rows
def rate(name):
    rows = [r for r in (json.loads(l) for l in open(f"{out}/{name}.jsonl")) if r.get("kind", "epoch") == "epoch"]
    return statistics.median(r["samples_per_second"] for r in rows[1:] or rows)
local, hosts = busbw("local"), busbw("hosts")
print(f"\n{'bytes':>12}{'4 hosts GB/s':>14}{'1 host GB/s':>14}{'ratio':>8}   (bus bandwidth of our all-reduce)")
for size in sorted(s for s in hosts if s >= 1 << 20):
    print(f"{size:12d}{hosts[size]:14.2f}{local[size]:14.2f}{hosts[size] / local[size]:8.2f}")
r_hosts, r_local = rate("hosts"), rate("local")
print(f"training samples/s: 4 hosts {r_hosts:.0f}, 1 host {r_local:.0f}")
big = max(hosts)
print(f"RESULT multihost_allreduce_busbw_256MiB: ours {hosts[big]:.2f} GB/s, one_host {local[big]:.2f} GB/s, ratio {hosts[big] / local[big]:.2f}")
print(f"RESULT multihost_training_samples_per_second: ours {r_hosts:.0f} samples/s, one_host {r_local:.0f} samples/s, ratio {r_hosts / r_local:.2f}")
PY
