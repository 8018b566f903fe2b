#!/usr/bin/env bash
# Installs the Debian packages that ringtrain needs to build, test and run its example.
# Used by the README's commands, by .ci/run and by the container build, so all three agree.
# Usage: scripts/install-deps.sh [--bench | --test]   (--bench adds the peers of benchmarks/;
# --test adds headless Chromium, which the report's browser test loads pages in, and NumPy and
# h5py for the test of examples/python/write_shards.py)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libopenmpi-dev openmpi-bin
  libeigen3-dev
  libhdf5-dev hdf5-tools
  libgtest-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libfmt-dev libcpp-httplib-dev libsimdjson-dev libonnx-dev libprotobuf-dev python3-onnx
  dataset-fashion-mnist
  rclone fuse3
  iproute2 util-linux
)
# Node.js and npm (for the Azure Storage emulator of scripts/blob-mount.sh): Debian's, unless a
# Node.js that brings its own npm is already installed.
command -v npm >/dev/null || packages+=(nodejs npm)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium python3-numpy python3-h5py)
fi
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3 python3-torch python3-h5py python3-numpy libopenblas0-pthread wrk gunicorn python3-flask)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
if ((${#missing[@]})); then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Every mpirun on this machine (or in this image) notices a lost host within seconds instead of
# waiting for it for ever: TCP keepalive on its links to its daemons (probes after 2 s idle, 1 s
# apart, 3 unanswered: about 5 s). Environment variables (OMPI_MCA_oob_tcp_keepalive_*) override it.
mca_params=/etc/openmpi/openmpi-mca-params.conf
if [[ -d /etc/openmpi ]] && ! grep -q "^oob_tcp_keepalive_time" "$mca_params" 2>/dev/null; then
  # (a blank line first: the file may not end with one)
  printf '\n%s\n%s\n%s\n%s\n' "# ringtrain (scripts/install-deps.sh): notice a lost host within seconds" \
    "oob_tcp_keepalive_time = 2" "oob_tcp_keepalive_intvl = 1" "oob_tcp_keepalive_probes = 3" |
    $sudo tee -a "$mca_params" >/dev/null
fi
