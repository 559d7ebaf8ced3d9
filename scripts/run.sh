#!/usr/bin/env bash
# The main job on its built-in default: set up, build, and generate a story with
# the real stories260K model from ../shared (or $HYBRIDFLOW_SHARED).
#   scripts/run.sh [generate flags...]          e.g. --temp 0.8 --seed 3
#   scripts/run.sh --flow ["question"] [flags]  hybridflow run on the local models instead
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir=$(bash scripts/build.sh)
shared=${HYBRIDFLOW_SHARED:-../shared}
if [ "${1:-}" = "--flow" ]; then
  shift
  if [ $# -eq 0 ]; then set -- "Why is the sky blue?"; fi
  exec "$dir/hybridflow" run "$@"
fi
exec "$dir/hybridflow" generate -m "$shared/models/stories260K.gguf" -p "Once upon a time" -n 120 "$@"
