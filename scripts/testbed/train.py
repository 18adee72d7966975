"""Train the tiny assistant (a Llama-architecture chat model) on CPU, resumably.

  train.py WORK [--steps N] [--threads T]

WORK holds corpus.jsonl (corpus.py), and receives tokenizer.model, tokens.pt, ckpt.pt (every
100 steps, atomically) and train.log. Rerunning the same command resumes from ckpt.pt; the data
order and the initial weights come from fixed seeds, so a resumed run sees the same batches.

Tokenisation copies what node-llama-cpp feeds llama.cpp for a chat template, so that the model sees
at inference what it saw in training: control tokens split the text, and each text fragment is
encoded on its own, without a leading space (node-llama-cpp tokenizes template pieces with
"trimLeadingSpace"; the tokenizer is trained without SentencePiece's dummy prefix and the GGUF says
add_space_prefix = false), and without normalisation.
"""
import argparse, json, math, os, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

SPECIAL = ["<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
CONFIG = dict(vocab=4096, dim=256, layers=4, heads=4, kv_heads=4, ffn=704, seq=160, norm_eps=1e-5, rope_theta=10000.0)

def parse():
    p = argparse.ArgumentParser()
    p.add_argument("work")
    p.add_argument("--steps", type=int, default=2400)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()

# ---------------- tokenizer ----------------
def train_tokenizer(work):
    import sentencepiece as spm
    path = os.path.join(work, "tokenizer.model")
    if os.path.exists(path):
        return path
    texts = os.path.join(work, "tokenizer-text.txt")
    with open(os.path.join(work, "corpus.jsonl"), encoding="utf-8") as f, open(texts, "w", encoding="utf-8") as out:
        for line in f:
            for _, t in json.loads(line)["turns"]:
                out.write(t.replace("\n", " ") + "\n")
    spm.SentencePieceTrainer.train(
        input=texts, model_prefix=os.path.join(work, "tokenizer"), vocab_size=CONFIG["vocab"], model_type="bpe",
        character_coverage=0.9995, byte_fallback=True, normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=False,
        split_digits=True, allow_whitespace_only_pieces=True, user_defined_symbols=[],
        control_symbols=SPECIAL, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, input_sentence_size=2000000,
        shuffle_input_sentence=True, seed_sentencepiece_size=1000000, num_threads=2, minloglevel=2)
    return path

class Tokenizer:
    def __init__(self, path):
        import sentencepiece as spm
        self.sp = spm.SentencePieceProcessor(model_file=path)
        self.special = {s: self.sp.piece_to_id(s) for s in SPECIAL}
        self.bos = self.sp.bos_id()
    def text(self, t):
        return self.sp.encode(t, out_type=int) if t else []
    def dialogue(self, turns):
        ids = [self.bos]
        for role, t in turns:
            ids.append(self.special["<|%s|>" % role])
            ids += self.text(t)
            ids.append(self.special["<|end|>"])
        return ids

# ---------------- model (Llama, as llama.cpp's LLM_ARCH_LLAMA computes it) ----------------
class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__(); self.eps = eps; self.weight = nn.Parameter(torch.ones(dim))
    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

def rope_tables(head_dim, seq, theta):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
    ang = torch.outer(torch.arange(seq).float(), inv)
    return ang.cos(), ang.sin()

def apply_rope(x, cos, sin):
    # llama.cpp's LLAMA rope (mode 0) rotates adjacent pairs (x0,x1), (x2,x3), ...
    x1, x2 = x[..., 0::2], x[..., 1::2]
    T = x.shape[-2]
    c, s = cos[:T], sin[:T]
    return torch.stack((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1).flatten(-2)

class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h = c["dim"], c["heads"]
        self.h, self.hd = h, d // h
        self.attn_norm = RMSNorm(d, c["norm_eps"]); self.ffn_norm = RMSNorm(d, c["norm_eps"])
        self.wq = nn.Linear(d, d, bias=False); self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False); self.wo = nn.Linear(d, d, bias=False)
        self.w1 = nn.Linear(d, c["ffn"], bias=False); self.w3 = nn.Linear(d, c["ffn"], bias=False)
        self.w2 = nn.Linear(c["ffn"], d, bias=False)
    def forward(self, x, cos, sin, mask):
        B, T, D = x.shape
        y = self.attn_norm(x)
        q = self.wq(y).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.wk(y).view(B, T, self.h, self.hd).transpose(1, 2)
        v = self.wv(y).view(B, T, self.h, self.hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask[:T, :T]
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.wo(y)
        y = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(y)) * self.w3(y))

class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c["vocab"], c["dim"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["dim"], c["norm_eps"])
        self.out = nn.Linear(c["dim"], c["vocab"], bias=False)
        cos, sin = rope_tables(c["dim"] // c["heads"], c["seq"], c["rope_theta"])
        self.register_buffer("cos", cos, persistent=False); self.register_buffer("sin", sin, persistent=False)
        self.register_buffer("mask", torch.full((c["seq"], c["seq"]), float("-inf")).triu(1), persistent=False)
        for n, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * c["layers"]) if n.endswith(("wo.weight", "w2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
    def forward(self, idx):
        x = self.tok(idx)
        for b in self.blocks:
            x = b(x, self.cos, self.sin, self.mask)
        return self.out(self.norm(x))

# ---------------- data ----------------
def load_tokens(work, tok):
    path = os.path.join(work, "tokens.pt")
    if os.path.exists(path):
        return torch.load(path)
    seq = CONFIG["seq"]
    rows = []
    with open(os.path.join(work, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            ids = tok.dialogue(json.loads(line)["turns"])[: seq + 1]
            rows.append(torch.tensor(ids + [-1] * (seq + 1 - len(ids)), dtype=torch.int16))
    data = torch.stack(rows)
    torch.save(data, path + ".tmp"); os.replace(path + ".tmp", path)
    return data

def lr_at(step, total, peak):
    warm = 200
    if step < warm:
        return peak * (step + 1) / warm
    p = (step - warm) / max(1, total - warm)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))

def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tok = Tokenizer(train_tokenizer(a.work))
    data = load_tokens(a.work, tok)
    n_tokens = int((data[:, 1:] >= 0).sum())
    log = open(os.path.join(a.work, "train.log"), "a")
    def say(msg):
        log.write(msg + "\n"); log.flush()
    model = Llama(CONFIG)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95))
    ck = os.path.join(a.work, "ckpt.pt")
    step, seen, t_spent = 0, 0, 0.0
    if os.path.exists(ck):
        s = torch.load(ck)
        model.load_state_dict(s["model"]); opt.load_state_dict(s["opt"])
        step, seen, t_spent = s["step"], s["seen"], s["seconds"]
        say(f"resumed at step {step}")
    else:
        say(json.dumps({"config": CONFIG, "params": n_params, "dialogues": len(data), "tokens": n_tokens, "steps": a.steps, "batch": a.batch}))
    g = torch.Generator().manual_seed(a.seed)
    per_epoch = len(data) // a.batch
    perm_epoch, perm = -1, None
    model.train()
    t0 = time.time(); ema = None
    while step < a.steps:
        epoch, i = divmod(step, per_epoch)
        if epoch != perm_epoch:
            g.manual_seed(a.seed * 1000 + epoch); perm = torch.randperm(len(data), generator=g); perm_epoch = epoch
        batch = data[perm[i * a.batch:(i + 1) * a.batch]].long()
        x, y = batch[:, :-1].clamp(min=0), batch[:, 1:]
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step, a.steps, a.lr)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1; seen += int((y >= 0).sum())
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 10 == 0 or step == a.steps:
            el = t_spent + time.time() - t0
            rate = seen / max(el, 1e-9)
            eta = (a.steps - step) * el / step
            bar = "#" * int(30 * step / a.steps)
            sys.stderr.write(f"\r[{bar:<30}] step {step}/{a.steps} loss {ema:.3f} epoch {seen / n_tokens:.2f} {rate:.0f} tok/s eta {eta / 60:.0f} min ")
            sys.stderr.flush()
        if step % 100 == 0 or step == a.steps:
            el = t_spent + time.time() - t0
            tmp = ck + ".tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "seen": seen, "seconds": el}, tmp)
            os.replace(tmp, ck)
            say(json.dumps({"step": step, "loss": round(ema, 4), "tokens_seen": seen, "epochs": round(seen / n_tokens, 2), "seconds": round(el)}))
    sys.stderr.write("\n")
    json.dump({"config": CONFIG, "params": n_params, "threads": a.threads, "steps": step, "batch": a.batch, "tokens_seen": seen, "epochs": round(seen / n_tokens, 2),
               "corpus_tokens": n_tokens, "dialogues": len(data), "loss": round(ema, 4) if ema else None, "seconds": round(t_spent + time.time() - t0)},
              open(os.path.join(a.work, "train-summary.json"), "w"), indent=1)

if __name__ == "__main__":
    main()
