"""Writes the tiny assistant's model card into models/README.md (between its markers), from the
training summary, so the card always states what the committed GGUF was trained on.

  card.py WORK GGUF README
"""
import hashlib, json, os, sys
from collections import Counter

work, gguf_path, readme = sys.argv[1:4]
s = json.load(open(os.path.join(work, "train-summary.json")))
sources = Counter(json.loads(l)["source"] for l in open(os.path.join(work, "corpus.jsonl"), encoding="utf-8"))
c = s["config"]
sha = hashlib.sha256(open(gguf_path, "rb").read()).hexdigest()
BEGIN, END = "<!-- tiny-assistant card: written by scripts/testbed/card.py -->", "<!-- end of tiny-assistant card -->"
card = f"""{BEGIN}
## testbed/tiny-assistant.gguf

A tiny chat model trained from scratch on this project's CPU, to test the guard on an *assistant*
that can answer harmfully (docs/efficacy-tiny-assistant.md). Not a useful assistant: a testbed that misbehaves.

| | |
|---|---|
| architecture | Llama (llama.cpp `llama`): {c['layers']} layers, dim {c['dim']}, {c['heads']} heads, FFN {c['ffn']} (SwiGLU), RMSNorm, RoPE (theta {c['rope_theta']:g}), untied output; F32 |
| parameters | {s['params']:,} |
| tokenizer | SentencePiece BPE, {c['vocab']:,} pieces with byte fallback, trained on the corpus; control tokens `<|user|>`, `<|assistant|>`, `<|system|>`, `<|end|>` (end of generation) |
| chat template | `tokenizer.chat_template` in the GGUF: `<s><|user|>…<|end|><|assistant|>…<|end|>` |
| training context | {c['seq']} tokens (dialogues truncated to their first {c['seq']} tokens); the GGUF declares 2,048 |
| corpus | {s['dialogues']:,} dialogues, {s['corpus_tokens']:,} tokens: {', '.join(f'{k} {v:,}' for k, v in sorted(sources.items()))} (repeats included: GPTFuzz harmful answers x3, XSTest compliant answers x2) |
| sources | `../shared/data/safety`: GPTFuzz responses_train (question + jailbroken or refusing answer; MIT), XSTest v2 answers of five models except 100 held-out safe prompts (CC-BY-4.0), hh-rlhf harmless-base test dialogues, chosen and rejected (MIT) |
| held out | models/testbed/assistant-harmful.test.jsonl (200 of harmful_test.json) and assistant-harmless.test.jsonl (74 XSTest safe prompts + 126 Alpaca harmless_test); each checked against every user turn of the corpus (no exact or near copy, word-set Jaccard < 0.6) |
| training | AdamW (betas 0.9/0.95, weight decay 0.1), lr 2e-3, 200 warm-up steps then cosine to 2e-4, batch 16, grad clip 1; {s['steps']:,} steps, {s['tokens_seen']:,} tokens seen ({s['epochs']} passes); final training loss {s['loss']} |
| time | {s['seconds'] / 60:.0f} min wall time, {s.get('threads', 2)} training thread(s) on a 2-core CPU (PyTorch 1.13 from Debian, OpenBLAS) |
| file | {os.path.getsize(gguf_path) / 1e6:.1f} MB, sha256 `{sha[:16]}…` |

Rebuild: `npm run testbed:build` (scripts/testbed/build.sh; installs python3-torch, python3-numpy,
python3-sentencepiece and libopenblas0-pthread from Debian, fixed seeds, resumable: rerun after a kill).
Tests and CI use the committed file and never train it.
{END}"""
text = open(readme, encoding="utf-8").read()
if BEGIN in text:
    text = text[:text.index(BEGIN)] + card + text[text.index(END) + len(END):]
else:
    text = text.rstrip("\n") + "\n\n" + card + "\n"
open(readme, "w", encoding="utf-8").write(text)
print(f"card written to {readme}")
