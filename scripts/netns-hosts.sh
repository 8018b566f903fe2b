#!/usr/bin/env bash
# Pretend hosts on one machine, for testing a job across hosts: each host is a network namespace
# with its own address and link, joined to the others by a bridge (veth pairs), in a private subnet
# of our own. Processes started in a host (scripts/netns-agent.sh, mpirun's launch agent) also get
# the host's name as their hostname. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2.
#
#   scripts/netns-hosts.sh up N      hosts rt-h1..rt-hN at 10.77.0.1..N; the bridge is 10.77.0.254
#   scripts/netns-hosts.sh cut HOST  sets HOST's link down (a host lost to the network)
#   scripts/netns-hosts.sh wire DELAY_US RATE_MBIT
#                                    after `up 2`: a second link between rt-h1 and rt-h2,
#                                    10.78.0.1 <-> 10.78.0.2, with a one-way delay and a rate
#                                    (build/benchmarks/delay_wire, or $DELAY_WIRE, between two
#                                    TUN devices)
#   scripts/netns-hosts.sh down      kills every process in the hosts, removes them and the bridge
#   scripts/netns-hosts.sh check     exit status 0 when this machine can make such hosts
set -euo pipefail
subnet_prefix=10.77.0
bridge=rtbr0

wire_pid_file=/run/ringtrain-delay-wire.pid
wire_log=/run/ringtrain-delay-wire.log

hosts() { ip netns list 2>/dev/null | awk '/^rt-h[0-9]+/ {print $1}'; }

down() {
  if [[ -f $wire_pid_file ]]; then
    kill "$(cat "$wire_pid_file")" 2>/dev/null || true
    rm -f "$wire_pid_file"
  fi
  for host in $(hosts); do
    pids=$(ip netns pids "$host" 2>/dev/null || true)
    [[ -n "$pids" ]] && kill -9 $pids 2>/dev/null || true
    ip netns delete "$host" 2>/dev/null || true
    ip link delete "rtv${host#rt-h}" 2>/dev/null || true
  done
  ip link delete "$bridge" 2>/dev/null || true
}

up() {
  local count=$1
  down
  ip link add "$bridge" type bridge
  ip addr add "$subnet_prefix.254/24" dev "$bridge"
  ip link set "$bridge" up
  for i in $(seq 1 "$count"); do
    local host=rt-h$i
    ip netns add "$host"
    ip link add "rtv$i" type veth peer name eth0 netns "$host"
    ip link set "rtv$i" master "$bridge"
    ip link set "rtv$i" up
    ip -n "$host" addr add "$subnet_prefix.$i/24" dev eth0
    ip -n "$host" link set eth0 up
    ip -n "$host" link set lo up
  done
}

wire() {
  local delay_us=$1 rate_mbit=$2
  local binary
  binary=${DELAY_WIRE:-"$(cd "$(dirname "$0")/.." && pwd)/build/benchmarks/delay_wire"}
  [[ -x $binary ]] || { echo "build $binary first" >&2; exit 1; }
  for i in 1 2; do
    ip -n "rt-h$i" tuntap add dev rtw0 mode tun
    ip -n "rt-h$i" link set rtw0 mtu 65000
    ip -n "rt-h$i" addr add "10.78.0.$i/24" dev rtw0
    ip -n "rt-h$i" link set rtw0 up
  done
  # Its output to a file of its own, so that a caller reading this script's output is not held.
  "$binary" rt-h1 rtw0 rt-h2 rtw0 "$delay_us" "$rate_mbit" > "$wire_log" 2>&1 < /dev/null &
  echo $! > "$wire_pid_file"
  # The wire is up once the program holds both devices (their carrier is on).
  for _ in $(seq 50); do
    if ip -n rt-h1 link show rtw0 | grep -q LOWER_UP && ip -n rt-h2 link show rtw0 | grep -q LOWER_UP; then
      return 0
    fi
    sleep 0.1
  done
  echo "the delay wire did not come up: $(cat "$wire_log")" >&2
  exit 1
}

case "${1:-}" in
  up) up "${2:?usage: netns-hosts.sh up N}" ;;
  down) down ;;
  cut) ip link set "rtv${2#rt-h}" down ;;
  wire) wire "${2:?usage: netns-hosts.sh wire DELAY_US RATE_MBIT}" "${3:?usage: netns-hosts.sh wire DELAY_US RATE_MBIT}" ;;
  check)
    [[ $(id -u) -eq 0 ]] || { echo "not root" >&2; exit 1; }
    ip netns add rt-probe 2>/dev/null || { echo "cannot create network namespaces here" >&2; exit 1; }
    ok=0
    ip netns exec rt-probe unshare --uts true 2>/dev/null || ok=1
    ip netns delete rt-probe
    [[ $ok -eq 0 ]] || { echo "cannot create UTS namespaces here" >&2; exit 1; }
    ;;
  *) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
