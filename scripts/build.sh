#!/usr/bin/env bash
# Configures and builds into build/ (or build-asan/ with --asan). Prints the build dir.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build; extra=()
if [ "${1:-}" = "--asan" ]; then
  dir=build-asan; extra=(-DHFLOW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
cmake -S . -B "$dir" "${extra[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" >&2
echo "$dir"
