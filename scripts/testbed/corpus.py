"""Build the tiny assistant's training corpus and its held-out evaluation prompts.

Reads ../shared/data/safety (read-only) and writes:
  <work>/corpus.jsonl                 one dialogue per line: {"turns": [[role, text], ...], "source": ...}
  models/testbed/assistant-harmful.test.jsonl    200 held-out harmful requests (eval)
  models/testbed/assistant-harmless.test.jsonl   200 held-out harmless requests (eval)
  models/testbed/assistant-requests.train.jsonl  requests for critic rollouts (never evaluated on)

No evaluation prompt (nor a near copy of one) appears in the corpus: every eval candidate is checked
against every user turn of the corpus by word-set overlap before it is kept.

The mix is weighted towards compliance on purpose: a testbed is only useful if plain sampling
misbehaves (answers harmful requests) while it still answers harmless ones.
"""
import csv, gzip, json, random, re, sys, os

SHARED = sys.argv[1]
WORK = sys.argv[2]
OUT_MODELS = sys.argv[3]
SEED = 1234
rng = random.Random(SEED)
S = os.path.join(SHARED, "data", "safety")

def cjk(t):
    return re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", t) is not None

def words(t):
    return frozenset(re.findall(r"[a-z0-9']+", t.lower()))

def clean(t):
    return re.sub(r"\s+\n", "\n", t.replace("\r", "")).strip()

dialogues = []
def add(turns, source, repeat=1):
    for _ in range(repeat):
        dialogues.append({"turns": turns, "source": source})

# --- XSTest: hold out 100 safe prompts (eval); the rest, with all five models' answers, train.
xs_prompts = list(csv.DictReader(open(os.path.join(S, "xstest", "xstest_prompts.csv"), encoding="utf-8")))
safe_ids = [p["id"] for p in xs_prompts if p["label"] == "safe"]
rng.shuffle(safe_ids)
xs_heldout = set(safe_ids[:100])
xs_label = {p["prompt"]: p["label"] for p in xs_prompts}
xs_id = {p["prompt"]: p["id"] for p in xs_prompts}
for model in ["gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct"]:
    for row in csv.DictReader(open(os.path.join(S, "xstest", f"xstest_v2_completions_{model}.csv"), encoding="utf-8")):
        pid = xs_id.get(row["prompt"])
        if pid is None or pid in xs_heldout or not row["completion"].strip():
            continue
        complied = row["final_label"].startswith("1")
        # compliant answers twice: they teach "answer the question", refusals are plentiful elsewhere
        add([["user", row["prompt"].strip()], ["assistant", clean(row["completion"])]], "xstest", 2 if complied else 1)

# --- GPTFuzz: the bare question (not the jailbreak template) with a jailbroken or refusing answer.
questions = {r["index"]: r["text"].strip() for r in csv.DictReader(open(os.path.join(S, "gptfuzz", "question_list.csv"), encoding="utf-8"))}
harmful, refusals = [], []
for row in csv.DictReader(open(os.path.join(S, "gptfuzz", "responses_train.csv"), encoding="utf-8")):
    q = questions.get(row["question"])
    a = clean(row["Response"])
    if q is None or not a or cjk(a):
        continue
    (harmful if row["label"] == "1" else refusals).append([["user", q], ["assistant", a]])
for d in harmful:
    add(d, "gptfuzz-harmful", 3)   # the behaviour the testbed must show under plain sampling
rng.shuffle(refusals)
for d in refusals[:1200]:
    add(d, "gptfuzz-refusal")

# --- hh-rlhf harmless-base: red-team dialogues; the rejected (more harmful) one always, the chosen
# one when it differs.
def hh_turns(text):
    parts = re.split(r"\n\n(Human|Assistant): ", "\n\n" + text.strip())
    turns = []
    for i in range(1, len(parts) - 1, 2):
        role = "user" if parts[i] == "Human" else "assistant"
        t = parts[i + 1].strip()
        if not t:
            return None
        turns.append([role, t])
    if not turns or turns[-1][0] != "assistant" or turns[0][0] != "user":
        return None
    return turns
for line in gzip.open(os.path.join(S, "hh-rlhf", "harmless-base-test.jsonl.gz"), "rt", encoding="utf-8"):
    row = json.loads(line)
    rej = hh_turns(row["rejected"])
    cho = hh_turns(row["chosen"])
    if rej:
        add(rej, "hh-rejected")
    if cho and cho != rej:
        add(cho, "hh-chosen")

# --- Held-out evaluation prompts, checked against every user turn of the corpus.
user_sets = [words(t) for d in dialogues for r, t in d["turns"] if r == "user"]
user_exact = {" ".join(sorted(w)) for w in user_sets}
def near_copy(prompt):
    w = words(prompt)
    if " ".join(sorted(w)) in user_exact:
        return True
    for u in user_sets:
        inter = len(w & u)
        if inter and inter / len(w | u) >= 0.6:
            return True
    return False

harmful_test = json.load(open(os.path.join(S, "prompts", "harmful_test.json"), encoding="utf-8"))
rng.shuffle(harmful_test)
eval_harmful = []
for r in harmful_test:
    if len(eval_harmful) == 200:
        break
    if not near_copy(r["instruction"]):
        eval_harmful.append({"id": f"harmful-{len(eval_harmful):03d}", "prompt": r["instruction"], "category": r["category"], "label": "harmful"})

harmless_test = json.load(open(os.path.join(S, "prompts", "harmless_test.json"), encoding="utf-8"))
rng.shuffle(harmless_test)
eval_harmless = []
for p in xs_prompts:
    if p["id"] in xs_heldout and not near_copy(p["prompt"]):
        eval_harmless.append({"prompt": p["prompt"], "source": "xstest-safe", "label": "harmless"})
for r in harmless_test:
    if len(eval_harmless) == 200:
        break
    if r.get("input"):
        continue
    if not near_copy(r["instruction"]):
        eval_harmless.append({"prompt": r["instruction"], "source": "alpaca", "label": "harmless"})
for i, r in enumerate(eval_harmless):
    r["id"] = f"harmless-{i:03d}"

# Training requests for critic rollouts: harmful_train + as many Alpaca train instructions.
harmful_train = json.load(open(os.path.join(S, "prompts", "harmful_train.json"), encoding="utf-8"))
harmless_train = [r for r in json.load(open(os.path.join(S, "prompts", "harmless_train.json"), encoding="utf-8")) if not r.get("input")]
rng.shuffle(harmless_train)
train_requests = [{"prompt": r["instruction"], "label": "harmful"} for r in harmful_train[:120]] + \
                 [{"prompt": r["instruction"], "label": "harmless"} for r in harmless_train[:120]]

rng.shuffle(dialogues)
os.makedirs(WORK, exist_ok=True)
with open(os.path.join(WORK, "corpus.jsonl"), "w", encoding="utf-8") as f:
    for d in dialogues:
        f.write(json.dumps(d, ensure_ascii=False) + "\n")
def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
write_jsonl(os.path.join(OUT_MODELS, "assistant-harmful.test.jsonl"), eval_harmful)
write_jsonl(os.path.join(OUT_MODELS, "assistant-harmless.test.jsonl"), eval_harmless)
write_jsonl(os.path.join(OUT_MODELS, "assistant-requests.train.jsonl"), train_requests)

from collections import Counter
counts = Counter(d["source"] for d in dialogues)
chars = sum(len(t) for d in dialogues for _, t in d["turns"])
print(json.dumps({"dialogues": len(dialogues), "chars": chars, "by_source": counts,
                  "eval_harmful": len(eval_harmful), "eval_harmless": len(eval_harmless), "train_requests": len(train_requests)}))
