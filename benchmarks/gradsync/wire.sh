#!/usr/bin/env bash
# ResNet-50 gradient synchronisation, per tensor against buckets, between two pretend hosts joined
# by a wire with a one-way delay and a rate (scripts/netns-hosts.sh wire: what per-message latency
# does, which shared memory does not show), at 2 ranks (one a host) and 4 (two a host), blocking
# and non-blocking buckets in turn, and at 4 ranks the hierarchy too, ROUNDS times. Within a host
# the ranks share memory (vader), as on a machine with several GPUs. Needs root. Run by hand,
# never by CI.
# Usage: benchmarks/gradsync/wire.sh [DELAY_US] [RATE_MBIT] [ROUNDS] [RANKS: "2 4", "2" or "4"]
delay_us=${1:-250}
rate_mbit=${2:-10000}
rounds=${3:-1}
rank_counts=${4:-2 4}
source "$(dirname "$0")/../common.sh"
[[ -x build/benchmarks/delay_wire ]] || bash scripts/build.sh
trap 'bash scripts/netns-hosts.sh down' EXIT
bash scripts/netns-hosts.sh up 2
bash scripts/netns-hosts.sh wire "$delay_us" "$rate_mbit"
hosts=$(mktemp)
printf "rt-h1 slots=2\nrt-h2 slots=2\n" > "$hosts"
source scripts/netns-mpi-env.sh
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=10.78.0.0/24  # between hosts: the delay wire
echo "== two hosts, a wire of $rate_mbit Mbit/s with $delay_us us one way"
for round in $(seq 1 "$rounds"); do
  # At 4 ranks also the hierarchy: the hosts' two ranks sum between themselves, the wire carries
  # one all-reduce between the hosts' leaders.
  for run in "2 off 0" "2 on 0" "4 off 0" "4 on 0" "4 off 1"; do
    read -r ranks nonblocking hierarchical <<< "$run"
    [[ " $rank_counts " == *" $ranks "* ]] || continue
    echo "== $ranks ranks, comm.nonblocking = $nonblocking, comm.hierarchical = $hierarchical (round $round)"
    GRADSYNC_NONBLOCKING=$nonblocking GRADSYNC_HIERARCHICAL=$hierarchical timeout 900 \
      mpirun --hostfile "$hosts" -np "$ranks" --map-by node -x GRADSYNC_NONBLOCKING -x GRADSYNC_HIERARCHICAL \
      build/benchmarks/gradsync
  done
done
rm -f "$hosts"
