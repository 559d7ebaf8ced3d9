# local_tiers.sh - sourced by the demos that run the two local tiers (router_demo.sh,
# cascade_demo.sh): builds, then sets hf (the CLI), edge (stories260K), ds (MMLU-STEM),
# out (the demo's output folder, created) and cloud (a `gen-model` llama with the edge's
# vocabulary, made in out). Usage: source scripts/local_tiers.sh OUT_DIR NAME
dir=$(bash scripts/build.sh)
hf=$dir/hybridflow
shared=${HYBRIDFLOW_SHARED:-../shared}
edge=$shared/models/stories260K.gguf
ds=$shared/datasets/MMLU-STEM.json
for f in "$edge" "$ds"; do
  [ -f "$f" ] || { echo "$2: $f not found (set HYBRIDFLOW_SHARED)" >&2; exit 1; }
done
out=$1
mkdir -p "$out"
cloud=$out/cloud.gguf
"$hf" gen-model -o "$cloud" --preset tiny --vocab-from "$edge" --seed 11 --ctx 4096
