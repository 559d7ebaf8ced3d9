#!/usr/bin/env bash
# Static analysis over src/ (see docs/TESTING.md for the triage behind the choices).
#   scripts/lint.sh              cppcheck (fails on any finding) + clang-tidy (report)
#   scripts/lint.sh --cppcheck   cppcheck only (~20 s)
#   scripts/lint.sh --scan-build also clang's scan-build over a scratch build (slow)
# cppcheck is clean and gating: every remaining finding is a triaged false
# positive, suppressed by name and place below. clang-tidy (bugprone-*,
# clang-analyzer-*) takes ~10 min on 2 cores and reports paths through cJSON
# it cannot see into (a system library without annotations), so it prints
# its findings and their count but does not fail. Neither runs in CI's test
# command (scripts/test.sh): tidy is too slow for it, and cppcheck is a lint
# gate a developer runs before pushing, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
jobs=2

run_cppcheck() {
  echo "== cppcheck $(cppcheck --version)"
  # Suppressed false positives (each read and judged):
  #  uninitvar generate.c/edge.c: `local` is memset through the pointer first;
  #  uninitStructMember cli_generate.c: stats are read only after hflow_generate filled them;
  #  autoVariables slots.c: a waiter on the stack is unlinked before the function returns;
  #  invalidPointerCast: the kernels read float rows through byte-strided pointers on purpose.
  cppcheck --enable=warning,performance,portability --inconclusive --std=c11 --error-exitcode=1 \
    -D_GNU_SOURCE -D__x86_64__ -I include -I src -j"$jobs" -q \
    --library=scripts/cppcheck-cjson.cfg \
    --suppress=missingIncludeSystem \
    --suppress=uninitvar:src/engine/generate.c --suppress=uninitvar:src/spec/edge.c \
    --suppress=uninitStructMember:src/cli/cli_generate.c \
    --suppress=autoVariables:src/serve/slots.c \
    --suppress=invalidPointerCast \
    --suppress=invalidFunctionArg:src/engine/sample.c \
    src
  echo "cppcheck: clean"
}

run_tidy() {
  [ -f build/compile_commands.json ] || bash scripts/build.sh >/dev/null
  local checks='-*,bugprone-*,clang-analyzer-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier'
  checks+=',-bugprone-narrowing-conversions,-bugprone-suspicious-string-compare,-bugprone-branch-clone'
  checks+=',-clang-analyzer-security.insecureAPI.*,-clang-analyzer-valist.Uninitialized'
  echo "== clang-tidy ($checks)"
  local out; out=$(mktemp)
  ls src/*/*.c | grep -v '_neon\.c$' | xargs -P"$jobs" -n8 clang-tidy -p build --quiet --checks="$checks" \
    2>/dev/null | tee "$out" || true
  echo "clang-tidy: $(grep -c 'warning:' "$out" || true) findings (see docs/TESTING.md for the known false positives)"
  rm -f "$out"
}

run_scan_build() {
  echo "== scan-build"
  rm -rf build-scan
  scan-build -o build-scan/report cmake -S . -B build-scan -DHFLOW_TESTS=OFF -DHFLOW_WERROR=OFF >/dev/null
  scan-build -o build-scan/report --status-bugs cmake --build build-scan -j"$jobs" --target hybridflow
}

case $mode in
  --cppcheck) run_cppcheck ;;
  --scan-build) run_cppcheck; run_tidy; run_scan_build ;;
  all) run_cppcheck; run_tidy ;;
  *) echo "usage: scripts/lint.sh [--cppcheck|--scan-build]" >&2; exit 2 ;;
esac
