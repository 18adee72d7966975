#!/usr/bin/env bash
# The tiny assistant's efficacy table (docs/efficacy-tiny-assistant.md): every method on 200 held-out harmful and
# 200 held-out harmless requests, 2 seeds, the assistant cost model and budget (the defaults for chat
# prompts), then the independent judge and the refusal detector over every answer.
# Resumable: rerun after a kill and the evaluations skip what they recorded.
#   EFFICACY_OUT=DIR   where the evaluation runs go (default ~/.cache/inference-guard/efficacy)
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=$(cd ../shared && pwd)
OUT=${EFFICACY_OUT:-$HOME/.cache/inference-guard/efficacy}
mkdir -p "$OUT"
# One process per core: each evaluation runs llama.cpp with 1 thread.
npx inference-guard eval --config models/testbed/eval-assistant-harmful.json --out "$OUT/harmful" &
harmful=$!
npx inference-guard eval --config models/testbed/eval-assistant-harmless.json --out "$OUT/harmless"
wait $harmful
python3 scripts/testbed/efficacy.py "$SHARED" "$OUT/harmful" "$OUT/harmless" docs/efficacy-tiny-assistant.md
