#!/usr/bin/env bash
# The main job on its built-in default: set up, build, and answer a question with
# HybridFlow — plan, DAG, edge/cloud routing — on the local models in ../shared/models
# (or $HYBRIDFLOW_MODELS), showing the DAG live and a cost/latency summary.
#   scripts/run.sh ["question"] [hybridflow run flags...]
#   scripts/run.sh --generate [generate flags...]   the engine alone: a story from stories260K
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir=$(bash scripts/build.sh)
shared=${HYBRIDFLOW_SHARED:-../shared}
if [ "${1:-}" = "--generate" ]; then
  shift
  exec "$dir/hybridflow" generate -m "$shared/models/stories260K.gguf" -p "Once upon a time" -n 120 "$@"
fi
mkdir -p out
question="Tom has 3 red balls and twice as many blue balls. How many balls does he have?"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then question=$1; shift; fi
# stories260K is a 260K-parameter story model: short step and answer budgets keep
# the demo quick; pass --edge/--cloud endpoints to run it on real models.
exec "$dir/hybridflow" run --max-step-tokens 96 --answer-tokens 160 --trace out/run-trace.jsonl \
  --chrome-trace out/run-trace.chrome.json "$@" "$question"
