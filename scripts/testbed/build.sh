#!/usr/bin/env bash
# `npm run testbed:build`: rebuilds models/testbed/tiny-assistant.gguf, the project's tiny assistant
# testbed, from ../shared/data/safety. Installs what it needs from Debian, trains on the CPU with
# fixed seeds (about 80 minutes on 2 cores), and resumes from its last checkpoint when rerun after a
# kill. Writes the GGUF and updates the model card in models/README.md.
#   TESTBED_WORK=DIR   working folder (corpus, tokenizer, checkpoints, log); default ~/.cache/inference-guard/testbed
#   TESTBED_STEPS=N    training steps (default 2400, batch 16 x 160 tokens)
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=$(cd ../shared && pwd)
WORK=${TESTBED_WORK:-$HOME/.cache/inference-guard/testbed}
STEPS=${TESTBED_STEPS:-2400}
PY=/usr/bin/python3   # Debian's python, where Debian's torch lives (not a pyenv/venv one)
OUT=models/testbed/tiny-assistant.gguf

# 1. Debian packages. libopenblas0-pthread matters: without it torch uses the reference BLAS (20x slower).
missing=()
for pkg in python3-torch python3-numpy python3-sentencepiece libopenblas0-pthread; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from Debian"
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get install -y -q "${missing[@]}" >/dev/null || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

# 2. llama.cpp's gguf-py, from the source bundle node-llama-cpp ships (no network).
BUNDLE=node_modules/node-llama-cpp/llama/gitRelease.bundle
LLAMA_SRC=$HOME/.cache/inference-guard/llama.cpp-$(sha256sum "$BUNDLE" | cut -c1-12)
[ -d "$LLAMA_SRC/gguf-py" ] || git clone -q "$BUNDLE" "$LLAMA_SRC" 2>/dev/null

mkdir -p "$WORK"
# 3. Corpus and held-out prompts (deterministic; built once per working folder).
[ -f "$WORK/corpus.jsonl" ] || $PY scripts/testbed/corpus.py "$SHARED" "$WORK" models/testbed
# 4. Tokenizer and training (resumes from $WORK/ckpt.pt).
$PY scripts/testbed/train.py "$WORK" --steps "$STEPS"
# 5. GGUF and card.
$PY scripts/testbed/export_gguf.py "$WORK" "$OUT" "$LLAMA_SRC/gguf-py"
$PY scripts/testbed/card.py "$WORK" "$OUT" models/README.md
