#!/usr/bin/env bash
# Installs the Debian packages the build, tests and reports need. Idempotent:
# runs apt-get update/install only when something is missing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libcurl4-openssl-dev libmicrohttpd-dev libcjson-dev libcmocka-dev
      gnuplot-nox wrk iproute2 valgrind curl jq bc)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q "${missing[@]}"
else
  echo "setup: all packages present"
fi
