#!/usr/bin/env bash
# mpirun's launch agent for the pretend hosts of scripts/netns-hosts.sh, in place of ssh:
#   mpirun --mca plm_rsh_agent scripts/netns-agent.sh --hostfile HOSTS ...
# Open MPI calls it as `AGENT HOST COMMAND...`, as it would call ssh; the command runs inside the
# host's network namespace, with the host's name as hostname, through a shell as ssh would.
set -euo pipefail
host=$1
shift
exec ip netns exec "$host" unshare --uts /bin/sh -c "hostname $host && $*"
