#!/usr/bin/env bash
# The early stop's patience rule (src/search/endPolicy.ts) measured on the tiny assistant (issue 26):
# reward at max-tokens 64 on the 40 training requests of docs/efficacy-tiny-assistant.md ("Where the guard loses
# reward"), and work at max-tokens 2048 against 64 on 10 harmless + 10 harmful training requests.
# Seed 1, K=4 N=8 W=8, the harm classifier at 0.5, the tiny assistant's reward head; the old rule
# is lengthRatio 0 (4 blocks past the first ending, whatever the answer's length).
#   bash scripts/testbed/end_policy.sh OUTDIR      (about 40 minutes on one busy core)
set -euo pipefail
out=${1:?usage: end_policy.sh OUTDIR}
mkdir -p "$out"
train=models/testbed/assistant-requests.train.jsonl
awk 'NR % 2 == 1' "$train" | head -40 > "$out/requests40.jsonl"
grep '"harmless"' "$train" | awk 'NR % 2 == 1' | head -10 > "$out/work20.jsonl"
head -10 "$out/requests40.jsonl" >> "$out/work20.jsonl"
R='"reward":"head:models/tiny-assistant-reward.json"'
npx tsx bench/branch-assistant.ts "$out/requests40.jsonl" "$out/reward64.jsonl" "{
  \"no early stop\":{\"branch\":\"always\",$R,\"end\":{\"rankedFirst\":false,\"patienceBlocks\":1e9}},
  \"beam + safety\":{\"beamSafe\":true,$R},
  \"old rule (4 blocks)\":{\"branch\":\"always\",$R,\"end\":{\"lengthRatio\":0}},
  \"lengthRatio 4\":{\"branch\":\"always\",$R,\"end\":{\"lengthRatio\":4}},
  \"default (lengthRatio 8)\":{\"branch\":\"always\",$R},
  \"lengthRatio 8, rankedFirst off\":{\"branch\":\"always\",$R,\"end\":{\"rankedFirst\":false}},
  \"auto, no early stop\":{\"branch\":\"auto\",$R,\"end\":{\"rankedFirst\":false,\"patienceBlocks\":1e9}},
  \"auto, old rule\":{\"branch\":\"auto\",$R,\"end\":{\"lengthRatio\":0}},
  \"auto, default\":{\"branch\":\"auto\",$R}}"
python3 scripts/testbed/paired_summary.py "$out/reward64.jsonl" "no early stop"
V="{\"always, old rule\":{\"branch\":\"always\",$R,\"end\":{\"lengthRatio\":0}},\"always, default\":{\"branch\":\"always\",$R},
  \"auto, old rule\":{\"branch\":\"auto\",$R,\"end\":{\"lengthRatio\":0}},\"auto, default\":{\"branch\":\"auto\",$R}}"
for cap in 64 2048; do
  BENCH_MAX_TOKENS=$cap npx tsx bench/branch-assistant.ts "$out/work20.jsonl" "$out/work$cap.jsonl" "$V"
  echo "max-tokens $cap"; python3 scripts/testbed/paired_summary.py "$out/work$cap.jsonl" "always, old rule"
done
