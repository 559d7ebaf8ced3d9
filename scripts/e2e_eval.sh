#!/usr/bin/env bash
# The full end-to-end evaluation (issue 6): `hybridflow eval` on 10 questions of every shared
# dataset, every method, against the real `hybridflow serve` on loopback with two small local
# models, the planner held to the plan grammar by the server (--remote-grammar). AIME is first
# interrupted with SIGINT and rerun, to show the resume. Prints each report's path and a summary.
#   scripts/e2e_eval.sh [OUT_DIR]        (default out/e2e-eval; an existing one is started afresh)
# Env: E2E_LIMIT (10), E2E_MAX_TOKENS (8: answers are tiny, the structure is what is shown),
#      E2E_CLOUD (a GGUF for the cloud tier; default a generated random llama on stories260K's
#      vocabulary, as the e2e tests use), HYBRIDFLOW_SHARED (../shared).
# Needs curl, jq and bc (scripts/setup.sh installs them).
# The test suite runs a smaller version of this (tests/test_e2e_eval.c): the full run takes
# minutes on a 2-core machine, too long for every ctest run.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(bash scripts/build.sh)/hybridflow"
shared=${HYBRIDFLOW_SHARED:-../shared}
out=${1:-out/e2e-eval}
limit=${E2E_LIMIT:-10}
maxtok=${E2E_MAX_TOKENS:-8}
edge_model="$shared/models/stories260K.gguf"
[ -r "$edge_model" ] || { echo "e2e_eval: $edge_model not found (set HYBRIDFLOW_SHARED)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
cloud_model=${E2E_CLOUD:-$out/cloud-tiny.gguf}
if [ -z "${E2E_CLOUD:-}" ]; then
  "$bin" gen-model -o "$cloud_model" --preset tiny --vocab-from "$edge_model" --ctx 4096 --seed 11 >/dev/null
fi

# The server, on a free port; stopped (by its pid) however this script ends.
log="$out/serve.log"
"$bin" serve --port 0 --model "edge=$edge_model" --model "cloud=$cloud_model" --ctx 4096 --parallel 2 \
  --threads 1 >"$log" 2>&1 &
srv=$!
trap 'kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || true' EXIT
base=""
for _ in $(seq 600); do
  base=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's/listening on //') || true
  [ -n "$base" ] && break
  kill -0 "$srv" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "e2e_eval: the server did not start" >&2; exit 1; }
generations() { curl -s "$base/metrics" | awk '/^hflow_generations_total/ {s += $NF} END {print s + 0}'; }

methods=edge,edge-cot,cloud,cloud-cot,route,hybridflow,hybridflow-chain
# The cloud tier is billed like a hosted model ($ per 1M tokens in/out), the edge runs free.
echo '{"cloud": {"input": 3.0, "output": 15.0}}' >"$out/prices.json"
eval_cmd() { # DATASET DIR (exec: run in the background, its pid is the eval's own, for SIGINT)
  exec "$bin" eval --dataset "$1" --limit "$limit" --methods "$methods" --edge "$base/v1#edge" \
    --cloud "$base/v1#cloud" --planner edge --remote-grammar --max-steps 3 --planner-tokens 600 \
    --policy difficulty:5 --prices "$out/prices.json" --max-tokens "$maxtok" --concurrency 2 --out "$2"
}
results() { cat "$1"/*.jsonl 2>/dev/null | grep -c '"id"' || true; }
calls() { cat "$1"/*.jsonl 2>/dev/null | jq -s 'map(.edge.calls + .cloud.calls) | add // 0'; }
plan_stats() { # mean steps and mean depth of the hybridflow method's plans
  jq -rs 'if length > 0 then "hybridflow plans: \(map(.steps) | add / length) steps, depth \(map(.depth) | add / length) on average" else "" end' "$1/hybridflow.jsonl"
}

summary="$out/summary.txt"
: >"$summary"
total_start=$(date +%s.%N)
for ds in aime gpqa mmlu-stem livebench mmlu-pro; do
  dir="$out/$ds"
  start=$(date +%s.%N)
  if [ "$ds" = aime ]; then
    # Interrupt after a few results, then rerun the same command: it must not redo them.
    (eval_cmd "$ds" "$dir" >"$out/$ds.interrupted.log" 2>&1) &
    ev=$!
    for _ in $(seq 3000); do [ "$(results "$dir")" -ge 8 ] && break; sleep 0.05; done
    kill -INT "$ev"
    wait "$ev" || true
    kept=$(results "$dir")
    c0=$(calls "$dir")
    # Generations the interrupted run had in flight end on the server: wait for idle slots.
    for _ in $(seq 300); do
      [ "$(curl -s "$base/metrics" | awk '/^hflow_slots_busy/ {s += $NF} END {print s + 0}')" = 0 ] && break
      sleep 0.1
    done
    g0=$(generations)
    (eval_cmd "$ds" "$dir" >"$out/$ds.log" 2>&1)
    g1=$(generations)
    echo "aime: interrupted with $kept results written; the rerun added $(( $(results "$dir") - kept )) results" \
      "whose $(( $(calls "$dir") - c0 )) model calls are exactly the $(( g1 - g0 )) requests the server saw" | tee -a "$summary"
  else
    (eval_cmd "$ds" "$dir" >"$out/$ds.log" 2>&1)
  fi
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  printf '%-10s %3d results in %6.1f s  %s  report %s\n' "$ds" "$(results "$dir")" "$secs" "$(plan_stats "$dir")" \
    "$dir/report.md" | tee -a "$summary"
done
printf 'total %.1f s\n' "$(echo "$(date +%s.%N) - $total_start" | bc)" | tee -a "$summary"
echo "reports: $out/*/report.md, plots: $out/*/plots/*.png, summary: $summary"
