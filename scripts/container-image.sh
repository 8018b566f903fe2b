#!/usr/bin/env bash
# Builds the ringtrain image with podman on a machine that reaches no image registry, only a Debian
# mirror: a Debian bookworm base made once with debootstrap from the mirror this machine's apt
# uses (localhost/ringtrain-base:bookworm), then the Dockerfile on it (a CPU-only image).
# Usage: scripts/container-image.sh [TAG] [podman build arguments...]   (TAG: ringtrain:local)
# Needs root, podman, runc and debootstrap (scripts/install-deps.sh --test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-ringtrain:local}
shift || true
base=localhost/ringtrain-base:bookworm

# Podman as these machines need it: no default ulimits (the VM refuses to raise them), runc,
# cgroups managed by podman itself (no systemd on these machines).
conf=/etc/containers/containers.conf
if ! grep -qs '^default_ulimits' "$conf"; then
  mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n' >> "$conf"
fi

if ! podman image exists "$base"; then
  # (some of these files may not exist: a missing one must not end the script)
  mirror=$(cat /etc/apt/sources.list.d/* /etc/apt/sources.list 2>/dev/null |
           grep -oE '^(URIs:|deb) +https?://[^ ]+' | awk '{print $2}' | head -1 || true)
  root=$(mktemp -d /var/tmp/ringtrain-base.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >/dev/null
  tar -C "$root" -c . | podman import - "$base" >/dev/null
fi
podman build --isolation chroot --build-arg BASE="$base" --build-arg RUNTIME_BASE="$base" -t "$tag" "$@" .
