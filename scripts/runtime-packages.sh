#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries BINARY loads, one line, for a runtime
# image to install (the Dockerfile's runtime stage). Libraries no package holds are left out.
# Usage: scripts/runtime-packages.sh BINARY
set -euo pipefail
binary=${1:?usage: scripts/runtime-packages.sh BINARY}
ldd "$binary" | awk '/=> \//{print $3}' | while read -r library; do
  file=$(realpath "$library")
  # Merged /usr: dpkg records /usr/lib where the loader found /lib.
  dpkg -S "$file" 2>/dev/null || dpkg -S "${file/#\/lib\//\/usr\/lib\/}" 2>/dev/null || true
done | cut -d: -f1 | sort -u | tr '\n' ' '
echo
