#!/usr/bin/env bash
# Installs the Debian packages that ringtrain needs to build, test and run its example.
# Used by the README's commands, by .ci/run and by the container build, so all three agree.
# Usage: scripts/install-deps.sh [--bench | --test | --image-build]   (--bench adds the peers of
# benchmarks/; --test adds headless Chromium, which the report's browser test loads pages in, NumPy
# and h5py for the test of examples/python/write_shards.py, and podman, runc, debootstrap and
# PyYAML for the container tests; --image-build installs only what building the binary needs: the
# Dockerfile's build stage)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libopenmpi-dev openmpi-bin
  libeigen3-dev libopenblas-dev
  libhdf5-dev libzip-dev libpng-dev libjpeg-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libfmt-dev libcpp-httplib-dev libsimdjson-dev libonnx-dev libprotobuf-dev
)
if [[ "${1:-}" != "--image-build" ]]; then
  packages+=(git hdf5-tools libgtest-dev python3-onnx dataset-fashion-mnist rclone fuse3 iproute2 util-linux)
  # Node.js and npm (for the Azure Storage emulator of scripts/blob-mount.sh): Debian's, unless a
  # Node.js that brings its own npm is already installed.
  command -v npm >/dev/null || packages+=(nodejs npm)
fi
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium python3-numpy python3-h5py python3-yaml podman runc debootstrap)
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

bash "$(dirname "$0")/openmpi-defaults.sh"
