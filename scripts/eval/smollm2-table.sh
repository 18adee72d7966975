#!/usr/bin/env bash
# The paper's Table 2 on SmolLM2-135M-Instruct (issue 26 section 4; docs/efficacy.md "SmolLM2"):
# every method on the 200 held-out harmful and 200 held-out harmless requests of models/eval
# (scripts/eval/smollm2-sets.ts), 128 answer tokens, the chat defaults (cost model, budget, reward),
# then the independent judge and the refusal detector over every answer.
#
# Hours of CPU: the harmful and harmless runs go side by side (one llama.cpp thread each), in
# stages so that the rows the targets name come first, and every stage resumes (an answer is never
# generated twice: rerun the script after a stop). STAGES picks stages (default "1 2 3 4"):
#   1  sample, the guard (branch auto and always), beam + safety   seed 1
#   2  the guard + critic (branch auto and always)                 seed 1
#   3  best-of-N, best-of-N + safety, beam, ARGS                seed 1
#   4  seed 2 of sample, beam + safety and the guard rows
#   SMOLLM2_EVAL_OUT=DIR   where the runs go (default ~/.cache/inference-guard/efficacy-smollm2)
#   LIMIT=N                only the first N requests of each set (a partial table, same order)
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=$(cd ../shared && pwd)
OUT=${SMOLLM2_EVAL_OUT:-$HOME/.cache/inference-guard/efficacy-smollm2}
mkdir -p "$OUT"
LIMIT_ARGS=()
[ -n "${LIMIT:-}" ] && LIMIT_ARGS=(--limit "$LIMIT")
G="k=4:n=8:w=8"
stage_methods() {
  case "$1" in
    1) echo "sample,guard:$G,beam-safe:$G,guard:$G:branch=always" ;;
    2) echo "guard-critic:$G,guard-critic:$G:branch=always" ;;
    3) echo "bon:n=8,bon-safe:n=8,beam:$G,args:k=10:omega=5" ;;
    4) echo "sample,guard:$G,guard-critic:$G,beam-safe:$G,guard:$G:branch=always,guard-critic:$G:branch=always" ;;
  esac
}
for stage in ${STAGES:-1 2 3 4}; do
  seed=1; [ "$stage" = 4 ] && seed=2
  methods=$(stage_methods "$stage")
  echo "stage $stage: $methods (seed $seed)"
  npx inference-guard eval --config models/eval/eval-smollm2-harmful.json --methods "$methods" --seeds "$seed" "${LIMIT_ARGS[@]}" --out "$OUT/harmful" &
  harmful=$!
  npx inference-guard eval --config models/eval/eval-smollm2-harmless.json --methods "$methods" --seeds "$seed" "${LIMIT_ARGS[@]}" --out "$OUT/harmless"
  wait $harmful
done
python3 scripts/testbed/efficacy.py "$SHARED" "$OUT/harmful" "$OUT/harmless" docs/efficacy.md smollm2
