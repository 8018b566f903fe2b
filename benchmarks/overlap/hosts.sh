#!/usr/bin/env bash
# Overlap between two pretend hosts (scripts/netns-hosts.sh: network namespaces, TCP over veth)
# whose links are limited to RATE_GBIT by tc's token bucket, with the gradient buckets as blocking
# all-reduces (comm.nonblocking = off) and as non-blocking ones (on, the default across hosts), in
# turn, ROUNDS times. Needs root. Run by hand, never by CI.
# Usage: benchmarks/overlap/hosts.sh [RATE_GBIT] [BATCH_PER_RANK] [ROUNDS]
rate=${1:-1}
batch=${2:-1024}
rounds=${3:-2}
source "$(dirname "$0")/../common.sh"
trap 'bash scripts/netns-hosts.sh down' EXIT
bash scripts/netns-hosts.sh up 2
for i in 1 2; do
  tc qdisc replace dev "rtv$i" root tbf rate "${rate}gbit" burst 1mb latency 50ms
  ip netns exec "rt-h$i" tc qdisc replace dev eth0 root tbf rate "${rate}gbit" burst 1mb latency 50ms
done
hosts=$(mktemp)
printf "rt-h1 slots=1\nrt-h2 slots=1\n" > "$hosts"
source scripts/netns-mpi-env.sh
echo "== two hosts linked at $rate Gbit/s"
for round in $(seq 1 "$rounds"); do
  for nonblocking in off on; do
    echo "== comm.nonblocking = $nonblocking (round $round)"
    # An MLP with 13.7 MB of gradients in 1 MiB buckets, its first layer small (final last).
    OVERLAP_NONBLOCKING=$nonblocking mpirun --hostfile "$hosts" -x OVERLAP_NONBLOCKING \
      build/benchmarks/overlap "$batch" 12 1 256 1024 1024 1024 1024 10
  done
done
rm -f "$hosts"
