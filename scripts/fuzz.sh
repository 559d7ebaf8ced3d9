#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ASan/UBSan) and runs one.
#   scripts/fuzz.sh [TARGET] [SECONDS]     default: fuzz_gguf for 60 s
# Seeds: the GGUF files in ../shared (when present) are copied into a corpus dir.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-fuzz_gguf}; secs=${2:-60}
CC=clang cmake -S . -B build-fuzz -DHFLOW_FUZZ=ON -DHFLOW_SANITIZE=ON -DHFLOW_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "$target" >&2
corpus=fuzz/corpus-run/$target; mkdir -p "$corpus"
shared=${HYBRIDFLOW_SHARED:-../shared}
if [ "$target" = fuzz_gguf ] && [ -d "$shared" ]; then
  # small seeds only: libFuzzer's default max_len makes big files slow to mutate
  find "$shared" -name '*.gguf' -size -2M -exec cp -n {} "$corpus/" \; 2>/dev/null || true
fi
exec ./build-fuzz/fuzz/"$target" -max_total_time="$secs" -max_len=65536 "$corpus"
