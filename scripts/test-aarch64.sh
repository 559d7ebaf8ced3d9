#!/usr/bin/env bash
# Optional cross test of the kernels on aarch64 (not part of the default test
# command): cross-compiles base/ + engine/ (NEON kernels instead of AVX2) and
# the kernel test programs, for baseline ARMv8-A and for ARMv8.2-A+dotprod
# (SDOT path), and runs them under qemu-user.
# Needs: gcc-aarch64-linux-gnu qemu-user, and cmocka for arm64:
#   dpkg --add-architecture arm64 && apt-get update && apt-get install libcmocka-dev:arm64
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
SYSROOT=${SYSROOT:-/usr/aarch64-linux-gnu}
command -v "$CC" >/dev/null || { echo "skipped: $CC not installed"; exit 77; }
command -v "$QEMU" >/dev/null || { echo "skipped: $QEMU not installed"; exit 77; }
tests=(test_quant test_vecdot test_quant_files test_gemv test_ops test_attend_rows)
src=$(pwd)
for march in armv8-a armv8.2-a+dotprod; do
  out="build-aarch64/$march"
  mkdir -p "$out"
  flags=(-std=c11 -O2 -march="$march" -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror -D_GNU_SOURCE
         -DHFLOW_SOURCE_DIR="\"$src\"" -DHFLOW_BINARY_DIR="\"$src/$out\"" -Iinclude -Isrc -Itests/support)
  lib=()
  # x86 SIMD files are left out (run-time dispatch falls back to NEON/scalar),
  # and of the test support only what the kernel tests link (no libcurl here).
  for f in src/base/*.c src/engine/*.c tests/support/testutil.c; do
    case "$f" in *_avx2.c | *_avxvnni.c | *_avx512.c | *_amx.c) continue ;; esac
    o="$out/$(basename "${f%.c}").o"
    "$CC" "${flags[@]}" -c "$f" -o "$o"
    lib+=("$o")
  done
  for t in "${tests[@]}"; do
    "$CC" "${flags[@]}" "tests/$t.c" "${lib[@]}" -o "$out/$t" -lcmocka -lm -lpthread
    echo "== $march $t"
    # Threads: qemu-user 7.2 on this machine hangs in pthread_create, so the
    # tests run single-threaded (pools of 1); thread splitting is covered natively.
    HYBRIDFLOW_TEST_MAX_THREADS=1 "$QEMU" -L "$SYSROOT" "$out/$t"
  done
done
echo "aarch64 kernel tests passed"
