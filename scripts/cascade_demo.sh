#!/usr/bin/env bash
# Cascade mode and the edge-confidence feature end to end on two local tiers (docs/ROUTER.md,
# "Edge confidence and cascade mode"):
#   1. run --cascade --policy confidence:T   the baseline at a few thresholds T (mean token logprob):
#      how many steps escalate to the cloud
#   2. profile --cascade   every step's edge answer with its confidence, swap labels
#   3. train-router        a router trained with the confidence (recorded in the file)
#   4. run --cascade --policy learned:ROUTER.gguf   per step: confidence, score, threshold, decision
# Edge: stories260K; cloud: a `gen-model` llama with stories' vocabulary (both in-process, greedy).
#   scripts/cascade_demo.sh [N_QUESTIONS (4)] [THRESHOLDS ("-0.6 -0.8 -1.0 -1.2")]
# Outputs in out/cascade-demo/. Needs ../shared (or $HYBRIDFLOW_SHARED) and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4}
thresholds=${2:-"-0.6 -0.8 -1.0 -1.2"}
source scripts/local_tiers.sh out/cascade-demo cascade_demo >/dev/null
rm -f "$out/profile.jsonl" "$out"/run-*.jsonl

caps=(--max-steps 3 --max-step-tokens 16 --answer-tokens 16 --plan-first --mode sequential --format option
      --task-type letter)
mapfile -t questions < <(jq -r ".[:$n][] | .problem | @json" "$ds")
for t in $thresholds; do
  for q in "${questions[@]}"; do
    "$hf" run --edge "$edge" --cloud "$cloud" --cascade --policy "confidence:$t" "${caps[@]}" \
      --trace "$out/run-conf$t.jsonl" "$(jq -r . <<<"$q")" >/dev/null
  done
  jq -s -r --arg t "$t" '[.[].steps[].call] | "confidence:\($t): \(map(select(.cascade.decision == "escalated")) | length) of \(length) steps escalated"' \
    "$out/run-conf$t.jsonl"
done

echo "== profile --cascade ($n questions)"
"$hf" profile --dataset "$ds" --edge "$edge" --cloud "$cloud" --out "$out/profile.jsonl" --limit "$n" \
  --max-steps 3 --max-step-tokens 16 --answer-tokens 16 --plan-first --cascade
echo "== train-router"
"$hf" train-router --data "$out/profile.jsonl" --level subtask --out "$out/router.gguf" --hash-dim 256 \
  --hidden 8 --epochs 100 --lambda-t 0 --lambda-k 0.001 --target-cloud-share 0.5 --test-frac 0.01 --seed 1
mapfile -t questions < <(jq -r 'select(.step_index == 0) | .question | @json' "$out/profile.jsonl")
echo "== run --cascade --policy learned"
for q in "${questions[@]}"; do
  "$hf" run --edge "$edge" --cloud "$cloud" --cascade --policy "learned:$out/router.gguf" "${caps[@]}" \
    --trace "$out/run-learned.jsonl" "$(jq -r . <<<"$q")" >/dev/null
done
jq -r '[.steps[] | .call | "conf=\(.cascade.edge_confidence*1000|round/1000) s=\(.route_score*1000|round/1000) t=\(.route_threshold*1000|round/1000) \(.cascade.decision)"] | join(" | ")' \
  "$out/run-learned.jsonl"
jq -s -r '[.[].steps[].call] | "learned: \(map(select(.cascade.decision == "escalated")) | length) of \(length) steps escalated"' \
  "$out/run-learned.jsonl"
