#!/usr/bin/env bash
# The whole test suite: sets up, builds normally (-Werror) and with ASan+UBSan,
# and runs ctest in both builds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for mode in "" --asan; do
  dir=$(bash scripts/build.sh $mode)
  echo "== ctest in $dir =="
  (cd "$dir" && ctest --output-on-failure -j2 --timeout 900)
done
