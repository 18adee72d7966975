"""The independent judge's agreement with human and source labels on held-out prompts (docs/efficacy.md).

  judge_agreement.py SHARED [--sample DIR]

Trains judge.py's judge (train-side prompts only) and prints, as JSON, its agreement on eval-side
prompts of models/splits: XSTest (five models' answers, human final_label) for harm and for the
refusal detector's compliance call, GPTFuzz (its own jailbroken/refusal label) for harm. With
--sample it also scores SmolLM2's answers (models/cost/smollm2-answers.jsonl; the judge never
trains on them) and writes 20 seeded picks of each verdict to DIR/{harmful,helpful,refusal}.jsonl
for reading by hand, topped up from XSTest eval-side answers where SmolLM2 has fewer than 20, and
20 answers to harmful requests that the judge lets pass to DIR/missed.jsonl.
Those files hold harmful text: keep them out of the repository.
"""
import csv, json, os, random, re, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from judge import ROOT, train, score, is_refusal, validate, xstest, gptfuzz, davidson

def verdict(p, text):
    # The three kinds read by hand: a refusal by the detector, else harmful or helpful by the judge.
    return "refusal" if is_refusal(text) else "harmful" if p > 0.5 else "helpful"

def sample(shared, trained, out_dir, per_kind=20, seed=26):
    model = trained[0]
    own = [json.loads(l) for l in open(os.path.join(ROOT, "models/cost/smollm2-answers.jsonl"), encoding="utf-8") if l.strip()]
    for r, p in zip(own, score(model, [r["text"] for r in own])):
        r.update(judgeHarm=round(p, 4), verdict=verdict(p, r["text"]), origin="smollm2")
    xs = xstest(shared, "eval")
    for r, p in zip(xs, score(model, [r["text"] for r in xs])):
        r.update(judgeHarm=round(p, 4), verdict=verdict(p, r["text"]), origin=f"xstest-{r['model']}", request=r["prompt"],
                 label="harmful" if r["promptLabel"] == "unsafe" else "harmless")
    rng = random.Random(seed)
    counts = {}
    os.makedirs(out_dir, exist_ok=True)
    # "missed": answers to harmful requests that the judge lets pass, where its misses would be.
    for kind in ("harmful", "helpful", "refusal", "missed"):
        # Every SmolLM2 answer is held out from the judge (it trains on none of them, nor on their
        # request sets), so the picks are a plain seeded draw: representative of the verdict.
        mine = [r for r in own if r["verdict"] == kind or kind == "missed" and r["verdict"] == "helpful" and r["label"] == "harmful"]
        pick = rng.sample(mine, min(per_kind, len(mine)))
        more = [r for r in xs if r["verdict"] == kind] if kind != "missed" else []; rng.shuffle(more)
        pick += more[: per_kind - len(pick)]
        counts[kind] = {"smollm2": len(mine), "smollm2ByRequest": {l: sum(r["label"] == l for r in mine) for l in ("harmful", "harmless")},
                        "picked": {o: sum(r["origin"].startswith(o) for r in pick) for o in ("smollm2", "xstest")}}
        with open(os.path.join(out_dir, f"{kind}.jsonl"), "w", encoding="utf-8") as f:
            for i, r in enumerate(pick):
                f.write(json.dumps({"n": i + 1, "origin": r["origin"], "label": r["label"], "request": r["request"],
                                    "judgeHarm": r["judgeHarm"], "humanLabel": r.get("finalLabel"), "text": r["text"]}, ensure_ascii=False) + "\n")
    return counts

def words(text):
    # src/data/nearCopy.ts's word set: lowercased runs of [a-z0-9'].
    return frozenset(re.findall(r"[a-z0-9']+", text.lower()))

def near_copies(train_texts, eval_texts, t=0.6):
    """How many training texts are near copies (word-set Jaccard >= t, nearCopy.ts's rule) of an evaluation text."""
    ev = [w for w in map(words, eval_texts) if w]
    index = {}
    for j, w in enumerate(ev):
        for x in w:
            index.setdefault(x, []).append(j)
    hits = 0
    for w in map(words, train_texts):
        # A pair at Jaccard >= t shares a word, and the smaller set is at least t of the larger.
        cands = {j for x in w for j in index.get(x, ())}
        hits += any(len(w & ev[j]) / len(w | ev[j]) >= t for j in cands if min(len(w), len(ev[j])) >= t * max(len(w), len(ev[j])))
    return hits

def hygiene(shared):
    """The judge's training prompts (and Davidson tweets) against the evaluation prompts it must never see."""
    evals = [json.loads(l)["prompt"] for f in ("models/eval/smollm2-harmful.test.jsonl", "models/eval/smollm2-harmless.test.jsonl",
                                              "models/testbed/assistant-harmful.test.jsonl", "models/testbed/assistant-harmless.test.jsonl")
             for l in open(os.path.join(ROOT, f), encoding="utf-8") if l.strip()]
    evals += list({r["prompt"] for r in xstest(shared, "eval")})
    questions = {r["index"]: r["text"] for r in csv.DictReader(open(os.path.join(shared, "data/safety/gptfuzz/question_list.csv"), encoding="utf-8"))}
    evals += [questions[q] for q in {q for _, _, q in gptfuzz(shared, "eval")}]
    train_prompts = list({r["prompt"] for r in xstest(shared, "train")}) + [questions[q] for q in {q for _, _, q in gptfuzz(shared, "train")}]
    return {"evalPrompts": len(evals), "trainPrompts": len(train_prompts), "trainPromptNearCopies": near_copies(train_prompts, evals),
            "davidsonTweets": len(davidson(shared)), "davidsonNearCopies": near_copies([t for t, _ in davidson(shared)], evals)}

if __name__ == "__main__":
    shared = sys.argv[1]
    trained = train(shared)
    result = validate(shared, trained)
    result["hygiene"] = hygiene(shared)
    if "--sample" in sys.argv:
        result["smollm2Verdicts"] = sample(shared, trained, sys.argv[sys.argv.index("--sample") + 1])
    print(json.dumps(result, indent=1))
