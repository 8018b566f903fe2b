#!/usr/bin/env bash
# Configures and builds ringtrain (Release, this processor's vector instructions) into build/.
# Extra arguments go to CMake, e.g. scripts/build.sh -DRINGTRAIN_NATIVE=OFF
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build --parallel "$(nproc)"
