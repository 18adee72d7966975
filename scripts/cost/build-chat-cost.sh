#!/usr/bin/env bash
# Rebuilds the chat cost model (harm:models/chat-harm.json: models/chat-harm-classifier.bin "a",
# models/chat-request-harm.bin "h", models/chat-compliance.bin "c") and its comparison (issue 26,
# docs/cost-models.md "The chat default") from pinned inputs, byte for byte: ../shared/data, models/splits (rebuilt
# and checked here), models/cost/smollm2-answers.jsonl (SmolLM2's answers; how they were made:
# docs/cost-models.md). WORK defaults to ~/.cache/inference-guard/chat-cost.
#   bash scripts/cost/build-chat-cost.sh [compare]
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${WORK:-$HOME/.cache/inference-guard/chat-cost}"
mkdir -p "$WORK/scores"
npx tsx scripts/cost/splits.ts
git diff --quiet -- models/splits || echo "note: models/splits changed (the data or a committed prompt file did)"
npx tsx scripts/cost/dump-harm-data.ts "$WORK/harm-data.jsonl"
IG_CALIBRATION_FOLD=1 npx tsx scripts/cost/harm-classifier.ts train "$WORK/harm-data.jsonl" "$WORK/fold.bin"
npx tsx scripts/cost/harm-classifier.ts train "$WORK/harm-data.jsonl" "$WORK/final.bin"
npx tsx scripts/cost/calibrate.ts "$WORK/harm-data.jsonl" "$WORK/fold.bin" "$WORK/final.bin" models/chat-harm-classifier.bin
# h and c, their scales chosen on the calibration fold, and the harm: file pinning all three by sha256.
npx tsx scripts/cost/request-harm.ts build "$WORK/harm-data.jsonl" "$WORK/fold.bin" models
npx tsx scripts/cost/charges.ts --cost classifier:models/chat-harm-classifier.bin --data "$WORK/harm-data.jsonl" --out "$WORK/charges.json"
npx tsx scripts/cost/charges.ts --cost harm:models/chat-harm.json --data "$WORK/harm-data.jsonl" --out "$WORK/charges-harm.json"
if [ "${1:-}" = compare ]; then
  # The leave-one-source-out table: TF-IDF (scikit-learn, scripts/cost/requirements.txt) and the
  # hashed n-gram classifier; the probe rows need scripts/cost/features.ts's cache in $WORK/feat.
  python3 scripts/cost/compare.py "$WORK/harm-data.jsonl" "$WORK/cmp" --no-tfidf
  npx tsx scripts/cost/harm-classifier.ts loso "$WORK/harm-data.jsonl" "$WORK/cmp/folds.json" "$WORK/scores/classifier.json"
  # The request-aware rows: harm-request (the rule on raw probabilities), -calibrated (the shipped
  # scales), request-only (h), request-x-compliance (h*c); a's scores are classifier.json's.
  npx tsx scripts/cost/request-harm.ts loso "$WORK/harm-data.jsonl" "$WORK/cmp/folds.json" "$WORK/scores/classifier.json" "$WORK/scores"
  FEAT=()
  [ -d "$WORK/feat" ] && FEAT=(--features "$WORK/feat" --feature-tag "${FEATURE_TAG:-b179c9523d0e-t32}")
  python3 scripts/cost/compare.py "$WORK/harm-data.jsonl" "$WORK/cmp" --scores "$WORK/scores" "${FEAT[@]}"
fi
