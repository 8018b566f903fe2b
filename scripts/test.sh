#!/usr/bin/env bash
# Sets up, builds and runs every test (unit, multi-rank under mpiexec -n 2 and -n 4, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 300
