"""Summarises bench/branch-assistant.ts answers: per variant, mean reward with its paired standard
error against a base variant (same requests, same seed), tokens, rows per answer token (the
prompt's prefill left out), the highest rows per token of one answer, and ms per answer.

  paired_summary.py OUT.jsonl [BASE_VARIANT]
"""
import json, math, sys

rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
base = sys.argv[2] if len(sys.argv) > 2 else None
variants = list(dict.fromkeys(r["variant"] for r in rows))
by = {v: {r["prompt"]: r for r in rows if r["variant"] == v} for v in variants}

print(f"| variant | answers | reward | vs {base} (paired SE) | tokens / answer | rows / answer token | highest rows / token | ms / answer |")
print("|---|---|---|---|---|---|---|---|")
for v in variants:
    rs = list(by[v].values())
    n = len(rs)
    paired = "—"
    if base in by and v != base:
        d = [by[v][p]["reward"] - by[base][p]["reward"] for p in by[v] if p in by[base]]
        m = sum(d) / len(d)
        se = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1) / len(d)) if len(d) > 1 else float("nan")
        paired = f"{m:+.3f} ± {se:.3f}"
    print(f"| {v} | {n} | {sum(r['reward'] for r in rs) / n:.3f} | {paired} | {sum(r['tokens'] for r in rs) / n:.1f} | "
          f"{sum(r['rows'] for r in rs) / max(1, sum(r['tokens'] for r in rs)):.2f} | "
          f"{max(r['rows'] / max(1, r['tokens']) for r in rs):.1f} | {sum(r['ms'] for r in rs) / n:.0f} |")
