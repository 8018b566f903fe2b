#!/usr/bin/env bash
# Every mpirun on this machine (or in this image) notices a lost host within seconds instead of
# waiting for it for ever: TCP keepalive on its links to its daemons (probes after 2 s idle, 1 s
# apart, 3 unanswered: about 5 s). Environment variables (OMPI_MCA_oob_tcp_keepalive_*) override it.
# Run by scripts/install-deps.sh and by the Dockerfile.
set -euo pipefail
mca_params=/etc/openmpi/openmpi-mca-params.conf
[[ -d /etc/openmpi ]] || exit 0
grep -q "^oob_tcp_keepalive_time" "$mca_params" 2>/dev/null && exit 0
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
# (a blank line first: the file may not end with one)
printf '\n%s\n%s\n%s\n%s\n' "# ringtrain (scripts/openmpi-defaults.sh): notice a lost host within seconds" \
  "oob_tcp_keepalive_time = 2" "oob_tcp_keepalive_intvl = 1" "oob_tcp_keepalive_probes = 3" |
  $sudo tee -a "$mca_params" >/dev/null
