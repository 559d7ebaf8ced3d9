#!/usr/bin/env bash
# Server benchmark: requests/s and p50/p99 latency of short completions at
# concurrency 1, 4 and 16, and the server's RSS after 1,000 and 10,000
# requests. Uses stories260K from ../shared when present, else a tiny random
# model made with `hybridflow gen-model`.
#   scripts/bench_server.sh [REQUESTS_PER_LEVEL (default 2000, at most 3000)] [PARALLEL (default 2)]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
PAR=${2:-2}
build=$(bash scripts/build.sh)
bin=$build/hybridflow
load=$build/bench_server_load
tmp=$(mktemp -d)
shared=${HYBRIDFLOW_SHARED:-../shared}
if [ -f "$shared/models/stories260K.gguf" ]; then
  model=$shared/models/stories260K.gguf
else
  model=$tmp/tiny.gguf
  "$bin" gen-model -o "$model" --preset tiny >/dev/null
fi
"$bin" serve --model m="$model" --port 0 --parallel "$PAR" --threads 1 --max-queue 256 >"$tmp/out" 2>"$tmp/err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$tmp/out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/out")/v1/completions
body='{"model":"m","prompt":"Once upon a time","max_tokens":8,"temperature":0}'
echo "model: $model; server: --parallel $PAR --threads 1; body: $body"
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
# The first 1,000 requests (they also warm the server up), RSS, the three
# concurrency levels, then up to 10,000 requests in total, RSS again.
"$load" --url "$url" --body "$body" --concurrency 8 --requests 1000 >/dev/null
r1=$(rss)
for c in 1 4 16; do
  "$load" --url "$url" --body "$body" --concurrency "$c" --requests "$N"
done
rest=$((10000 - 1000 - 3 * N))
[ $rest -gt 0 ] && "$load" --url "$url" --body "$body" --concurrency 8 --requests $rest >/dev/null
r10=$(rss)
echo "RSS after 1000 requests: ${r1} kB; after 10000: ${r10} kB; ratio $(awk -v a="$r1" -v b="$r10" 'BEGIN{printf "%.3f", b/a}')"
