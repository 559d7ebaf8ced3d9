#!/usr/bin/env bash
# Subtask-level learned routing end to end on two local tiers (docs/ROUTER.md, "End to end"):
#   1. hybridflow profile      a few MMLU-STEM questions, every step on both tiers, swap labels
#   2. train-router --level subtask   a small MLP, calibrated to send half of the profiled steps to the cloud
#   3. hybridflow run --policy learned:ROUTER.gguf   the same questions under a loose and a tight
#      cloud token budget; prints, per budget, each step's score s, threshold delta_t, budget ratio
#      and tier, and the share of steps the router sent to the cloud.
# Edge: stories260K; cloud: a `gen-model` llama with stories' vocabulary (both in-process, greedy).
# Neither model can answer a STEM question, so the quality labels are all 0 and the router learns
# from the cloud-token cost (--lambda-k) alone: the point is the pipeline, not the accuracy.
#   scripts/router_demo.sh [N_QUESTIONS (4)] [TIGHT_CLOUD_TOKENS (2000)]
# Outputs in out/router-demo/. Needs ../shared (or $HYBRIDFLOW_SHARED) and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4}
tight=${2:-2000}
loose=1000000
bash scripts/setup.sh >/dev/null
source scripts/local_tiers.sh out/router-demo router_demo
rm -f "$out/profile.jsonl" "$out"/run-*.jsonl

# Short calls keep it quick; --plan-first makes each step's features (n_steps, is_last) final,
# in the profile and in the runs alike.
caps=(--max-steps 3 --max-step-tokens 16 --answer-tokens 16 --plan-first)
echo "== profile ($n questions)"
"$hf" profile --dataset "$ds" --edge "$edge" --cloud "$cloud" --out "$out/profile.jsonl" --limit "$n" "${caps[@]}"

echo "== train-router --level subtask"
# --test-frac 0.01: every profiled question trains and calibrates (there are only a few).
"$hf" train-router --data "$out/profile.jsonl" --level subtask --out "$out/router.gguf" --hash-dim 256 \
  --hidden 8 --epochs 100 --lambda-t 0 --lambda-k 0.001 --target-cloud-share 0.5 --test-frac 0.01 --seed 1
"$hf" inspect "$out/router.gguf" | grep -E 'router\.(decision|lambda)\.' || true

# The profiled questions, exactly as the profiler saw them.
mapfile -t questions < <(jq -r 'select(.step_index == 0) | .question | @json' "$out/profile.jsonl")
for cap in "$loose" "$tight"; do
  echo "== run --policy learned, cloud budget $cap tokens per query"
  for q in "${questions[@]}"; do
    "$hf" run --edge "$edge" --cloud "$cloud" --policy "learned:$out/router.gguf" --budget-tokens "$cap" \
      "${caps[@]}" --mode sequential --format option --task-type letter --trace "$out/run-$cap.jsonl" \
      "$(jq -r . <<<"$q")" >/dev/null
  done
  jq -r '. as $q | [$q.steps[] | .call | "s=\(.route_score*1000|round/1000) t=\(.route_threshold*1000|round/1000) r_B=\(.budget.tokens_ratio*1000|round/1000) \(.routed_tier)"]
         | join(" | ") + "   (cloud tokens \($q.totals.budget_used.cloud_tokens) of \($q.totals.limits.cloud_tokens))"' \
    "$out/run-$cap.jsonl"
  jq -s '[.[].steps[].call] | "steps routed to the cloud: \(map(select(.routed_tier == "cloud")) | length) of \(length)"' \
    -r "$out/run-$cap.jsonl"
done
echo "traces: $out/run-$loose.jsonl, $out/run-$tight.jsonl"
