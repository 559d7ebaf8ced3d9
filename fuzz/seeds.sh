#!/usr/bin/env bash
# Writes a few small seed inputs for a fuzz target into DIR (generated, never
# committed: the corpus grows under fuzz/corpus-run/, which git ignores).
# Byte 0 of every seed is the target's selector byte (see each fuzz_*.c).
#   fuzz/seeds.sh TARGET DIR
set -euo pipefail
target=$1; dir=$2; mkdir -p "$dir"
n=0
seed() { # seed SELECTOR_BYTE_OCTAL TEXT
  printf "\\$1%s" "$2" > "$dir/seed-$n"; n=$((n + 1))
}
case $target in
fuzz_plan_parse)
  seed 001 '<Plan><Step ID="1" Task="Find x" Rely="" Difficulty="3" Token="120"/><Step ID="2" Task="Use x &amp; y" Rely="1" Difficulty="5" Token="80"/></Plan>'
  seed 007 '<think>draft <Step ID="9" Task="no"/></think>chatter <plan><step id=1 task=a/><step id="2" rely="[1, 1, 2]">long &#x41; form</step><Step ID="2" Task=dup Rely="step 1,3"/></plan><Step ID="5" Task="after"/>'
  seed 003 '<Step ID="0" Task="" Rely="1 2 3"/><Step Task="&#99999999999; &bogus; &lt;" Difficulty="-4" Token="-1"/>' ;;
fuzz_sse)
  seed 001 $'data: {"a":1}\n\n: keep-alive\n\nevent: delta\ndata: x\ndata: y\r\n\r\nid: 7\nretry: 10\n\ndata: [DONE]\n\n'
  seed 005 $'\xEF\xBB\xBFdata:no-space\r\rdata\n\nevent:e\r\ndata: half' ;;
fuzz_openai_request)
  seed 000 '{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],"max_tokens":5,"temperature":0.5,"top_p":0.9,"stop":["a","b"],"stream":true,"stream_options":{"include_usage":true},"logprobs":true,"top_logprobs":2,"seed":3}'
  seed 001 '{"model":"m","prompt":[1,2,3],"max_tokens":0,"echo":true,"logprobs":3,"top_k":4,"min_p":0.1,"repeat_penalty":1.1,"ignore_eos":false,"stop":"x"}'
  seed 002 '{"content":"hello","add_special":false,"with_pieces":true}'
  seed 003 '{"model":"m","tokens":[1,2,300]}'
  seed 004 '{"model":"m","choices":[{"message":{"content":"hi"},"finish_reason":"eos"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}'
  seed 005 '{"choices":[{"delta":{"content":"x"},"finish_reason":null}],"usage":{"prompt_tokens":3}}'
  seed 006 '{"error":{"message":"bad","type":"invalid_request_error","code":400}}' ;;
fuzz_spec_wire)
  seed 000 '{"draft":[1,2],"q":[{"ids":[1,5],"p":[0.75,0.25]},{"ids":[2],"p":[1]}]}'
  seed 001 '{"accepted":1,"token":42,"forward_ms":1.5,"n_tokens":9}'
  seed 002 '{"model":"m","prompt_ids":[1,2,3],"temperature":0.7,"top_k":40,"top_p":0.9,"seed":5,"draft_top_k":8,"draft_tokenizer_fp":"00ff00ff00ff00ff"}'
  seed 006 '{"model":"m","prompt":"text"}'
  seed 003 '{"id":"s1","model":"m","version":"v2","tokenizer_fp":"0123456789abcdef","backbone_fp":"1","n_tokens":3}' ;;
fuzz_eval_extract)
  seed 001 $'B\0Let me think.\nThe answer is (B).'
  seed 020 $'042\0So $\\boxed{42}$ degrees^\\circ'
  seed 101 $'Bob, Alice\0<solution>Bob, Alice</solution>'
  seed 201 $'2\0**2**'
  seed 301 $'yes, no, unknown\0**yes, no, unknown**' ;;
fuzz_tokenize)
  seed 001 'Hello world, the <|im_start|>user 123'
  seed 025 $'\xE2\x96\x81ab <ctl> caf\xC3\xA9' ;;
esac
