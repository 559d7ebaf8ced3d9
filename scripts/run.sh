#!/usr/bin/env bash
# The main job on its built-in default: set up, build, and generate a story with
# the real stories260K model from ../shared (or $HYBRIDFLOW_SHARED).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir=$(bash scripts/build.sh)
shared=${HYBRIDFLOW_SHARED:-../shared}
exec "$dir/hybridflow" generate -m "$shared/models/stories260K.gguf" -p "Once upon a time" -n 120 "$@"
