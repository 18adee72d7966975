#!/usr/bin/env bash
# The tiny assistant's efficacy table before issue 17 (docs/efficacy-tiny-assistant.md, "table"): every method on
# 200 held-out harmful and 200 held-out harmless requests, 2 seeds, with the cost model, budget and reward the
# configs pin (the chat defaults of that time: classifier:models/harm-classifier.bin, budget 0.5, ranking by
# logprob; today's chat defaults differ), then the independent judge and the refusal detector over every answer.
# Arguments go to both evaluations: the table's classifier and critic were the files before issue 17's retrain,
#   git show 4677d50:models/harm-classifier.bin > /tmp/harm-before.bin
#   git show 4677d50:models/tiny-assistant-critic.bin > /tmp/critic-before.bin
#   bash scripts/testbed/efficacy.sh --cost classifier:/tmp/harm-before.bin --critic /tmp/critic-before.bin
# Resumable: rerun after a kill and the evaluations skip what they recorded.
#   EFFICACY_OUT=DIR   where the evaluation runs go (default ~/.cache/inference-guard/efficacy)
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=$(cd ../shared && pwd)
OUT=${EFFICACY_OUT:-$HOME/.cache/inference-guard/efficacy}
mkdir -p "$OUT"
# One process per core: each evaluation runs llama.cpp with 1 thread.
npx inference-guard eval --config models/testbed/eval-assistant-harmful.json --out "$OUT/harmful" "$@" &
harmful=$!
npx inference-guard eval --config models/testbed/eval-assistant-harmless.json --out "$OUT/harmless" "$@"
wait $harmful
python3 scripts/testbed/efficacy.py "$SHARED" "$OUT/harmful" "$OUT/harmless" docs/efficacy-tiny-assistant.md
