"""Compares chat cost-model candidates by leave-one-source-out ROC-AUC (issue 26).

Reads the labelled data (scripts/cost/dump-harm-data.ts) and writes, per fold, which rows train and
which test (folds.json, read by scripts/cost/loso-classifier.ts for the hashed n-gram classifier),
then scores the candidates it can fit itself:
  tfidf      the plain baseline: TF-IDF word 1-2grams + logistic regression (scikit-learn)
  probe-last / probe-mean   logistic regression on SmolLM2's cached hidden states
                            (scripts/cost/features.ts), the rows that have them
and reads scores of the others (SCORES_DIR/NAME.json: {fold: [score per test row]}): classifier
(scripts/cost/harm-classifier.ts loso) and the request-aware chat default's rows harm-request,
harm-request-calibrated, request-only, request-x-compliance (scripts/cost/request-harm.ts loso).

Folds:
  loso-S   train: the training side of every source but S; test: every row of S (any side) whose
           prompt is no near copy (word-set Jaccard >= 0.6) of a training row's prompt.
  in-dist  train: the training side of every source; test: each source's eval side.
Figures per test source: xstest and smollm2: fully compliant answers to unsafe (harmful) vs to
safe (harmless) requests; gptfuzz: jailbroken answers vs refusals (it has no helpful answers).
Every row is weighted so each (source, label) of the training set carries an equal share.

  pip install -r scripts/cost/requirements.txt
  python3 scripts/cost/compare.py DATA.jsonl OUT_DIR [--features DIR] [--scores DIR] [--only-featured]
"""
import argparse, hashlib, json, os, re, sys
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("data"); ap.add_argument("out")
ap.add_argument("--features"); ap.add_argument("--feature-tag", default="b179c9523d0e-t48")
ap.add_argument("--feature-embd", type=int, default=576, help="hidden size of the features' model (SmolLM2-135M: 576)")
ap.add_argument("--scores")
ap.add_argument("--no-tfidf", action="store_true")
ap.add_argument("--only-featured", action="store_true", help="every candidate on the rows with cached features only (a like-for-like table)")
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
rows = [json.loads(l) for l in open(args.data, encoding="utf-8") if l.strip()]
labels = np.array([r["label"] for r in rows])

feat = None
if args.features:
    idx_path = os.path.join(args.features, args.feature_tag + ".index.jsonl")
    keys = [json.loads(l)["key"] for l in open(idx_path) if l.strip()]
    X = np.fromfile(os.path.join(args.features, args.feature_tag + ".f32"), dtype=np.float32)
    d2 = 2 * args.feature_embd  # last token's state, then the mean
    X = X[: len(keys) * d2].reshape(len(keys), d2)  # floats past the index are a chunk still being written
    where = {k: i for i, k in enumerate(keys)}
    key = lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest()[:24]
    feat_row = np.array([where.get(key(r["text"]), -1) for r in rows])
    feat = X
keep = np.ones(len(rows), bool)
if args.only_featured:
    keep = feat_row >= 0

def words(t):
    return frozenset(re.findall(r"[a-z0-9']+", t.lower()))

def near_any(test_prompts, train_prompts):
    """Indices of test prompts with a near copy among train prompts (inverted index on words)."""
    index = {}
    tw = [words(p) for p in set(train_prompts)]
    for k, w in enumerate(tw):
        for x in w:
            index.setdefault(x, []).append(k)
    out = set()
    for i, p in enumerate(test_prompts):
        w = words(p)
        seen = set()
        for x in w:
            for k in index.get(x, ()):
                if k in seen:
                    continue
                seen.add(k)
                u = tw[k]
                inter = len(w & u)
                if inter / len(w | u) >= 0.6:
                    out.add(i); break
            if i in out:
                break
    return out

SOURCES = ["xstest", "gptfuzz", "hh-rlhf", "smollm2"]
EVALUATED = ["xstest", "gptfuzz", "smollm2"]
folds = {}
for s in EVALUATED:
    train = [i for i, r in enumerate(rows) if keep[i] and r["source"] != s and r["side"] == "train"]
    cand = [i for i, r in enumerate(rows) if keep[i] and r["source"] == s]
    bad = near_any([rows[i]["prompt"] for i in cand], [rows[i]["prompt"] for i in train])
    folds[f"loso-{s}"] = {"train": train, "test": [c for k, c in enumerate(cand) if k not in bad], "excluded_near_copies": len(bad)}
folds["in-dist"] = {
    "train": [i for i, r in enumerate(rows) if keep[i] and r["side"] == "train"],
    "test": [i for i, r in enumerate(rows) if keep[i] and r["side"] == "eval"],
}
json.dump(folds, open(os.path.join(args.out, "folds.json"), "w"))

def weights(idx):
    w = np.zeros(len(idx))
    groups = {}
    for k, i in enumerate(idx):
        groups.setdefault((rows[i]["source"], rows[i]["label"]), []).append(k)
    for g in groups.values():
        w[g] = 1.0 / len(g)
    return w * len(idx) / w.sum()

def auc(pos, neg):
    if len(pos) == 0 or len(neg) == 0:
        return None
    s = np.concatenate([pos, neg]); y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    order = np.argsort(s, kind="mergesort"); ranks = np.empty(len(s)); 
    # average ranks for ties
    sorted_s = s[order]; r = np.arange(1, len(s) + 1, dtype=float)
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        r[i:j + 1] = (i + j + 2) / 2
        i = j + 1
    ranks[order] = r
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))

def figures(fold, test, scores):
    out = {}
    by = {}
    for i, sc in zip(test, scores):
        by.setdefault((rows[i]["source"], rows[i]["kind"]), []).append(sc)
    for s in (EVALUATED if fold == "in-dist" else [fold[5:]]):
        neg_kind = "refusal" if s == "gptfuzz" else "helpful"
        pos = np.array(by.get((s, "harmful"), [])); neg = np.array(by.get((s, neg_kind), []))
        out[s] = {"auc": auc(pos, neg), "harmful": len(pos), neg_kind: len(neg),
                  "helpfulMedian": float(np.median(by[(s, "helpful")])) if by.get((s, "helpful")) else None,
                  "refusalMedian": float(np.median(by[(s, "refusal")])) if by.get((s, "refusal")) else None}
    return out

results = {}
def run(name, fit_predict):
    results[name] = {}
    for fold, f in folds.items():
        sc = fit_predict(f["train"], f["test"])
        results[name][fold] = figures(fold, f["test"], sc)
        json.dump({fold: list(map(float, sc))}, open(os.path.join(args.out, f"{name}.{fold}.scores.json"), "w"))

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
def tfidf(train, test):
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200000)
    Xtr = vec.fit_transform([rows[i]["text"] for i in train])
    clf = LogisticRegression(C=4.0, max_iter=2000)
    clf.fit(Xtr, labels[train], sample_weight=weights(train))
    return clf.predict_proba(vec.transform([rows[i]["text"] for i in test]))[:, 1]
if not args.no_tfidf:
    run("tfidf", tfidf)

if feat is not None:
    d = feat.shape[1] // 2
    for pooling, sl in (("last", slice(0, d)), ("mean", slice(d, 2 * d))):
        def probe(train, test, sl=sl):
            tr = [i for i in train if feat_row[i] >= 0]
            Xtr = feat[feat_row[tr]][:, sl].astype(np.float64)
            mu = Xtr.mean(0); sd = Xtr.std(0); sd[sd < 1e-6] = 1
            clf = LogisticRegression(C=0.05, max_iter=3000)
            clf.fit((Xtr - mu) / sd, labels[tr], sample_weight=weights(tr))
            out = np.full(len(test), np.nan)
            have = [k for k, i in enumerate(test) if feat_row[i] >= 0]
            out[have] = clf.predict_proba((feat[feat_row[[test[k] for k in have]]][:, sl] - mu) / sd)[:, 1]
            return out
        def wrapped(train, test, probe=probe):
            sc = probe(train, test)
            return sc
        # rows without features get NaN and are left out of the figures
        results[f"probe-{pooling}"] = {}
        for fold, f in folds.items():
            sc = wrapped(f["train"], f["test"])
            ok = ~np.isnan(sc)
            results[f"probe-{pooling}"][fold] = figures(fold, [t for t, o in zip(f["test"], ok) if o], sc[ok])
            json.dump({fold: [None if np.isnan(x) else float(x) for x in sc]}, open(os.path.join(args.out, f"probe-{pooling}.{fold}.scores.json"), "w"))

if args.scores:
    for fn in sorted(os.listdir(args.scores)):
        if not fn.endswith(".json"):
            continue
        name = fn[:-5]
        got = json.load(open(os.path.join(args.scores, fn)))
        results[name] = {fold: figures(fold, folds[fold]["test"], np.array(got[fold])) for fold in folds if fold in got}

json.dump({"folds": {k: {"train": len(v["train"]), "test": len(v["test"]), "excludedNearCopies": v.get("excluded_near_copies")} for k, v in folds.items()}, "results": results},
          open(os.path.join(args.out, "results.json"), "w"), indent=1)
for name, r in results.items():
    for fold, fig in r.items():
        for s, m in fig.items():
            a = "n/a" if m["auc"] is None else f"{m['auc']:.3f}"
            print(f"{name:12} {fold:14} {s:8} AUC {a}  n+ {m['harmful']:4}  n- {m.get('helpful', m.get('refusal'))}  helpful median {m['helpfulMedian']}")
