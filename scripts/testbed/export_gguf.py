"""Write the trained tiny assistant as a llama.cpp GGUF (F32), with its tokenizer and chat template.

  export_gguf.py WORK OUT.gguf GGUF_PY_DIR [--summary JSON]

Weights are written as llama.cpp's LLM_ARCH_LLAMA reads them; rope pairs are adjacent in training
(train.py), which is llama.cpp's layout, so q/k need no permutation (that is only for HF checkpoints).
"""
import json, os, sys
import numpy as np
import torch

work, out, gguf_py = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, gguf_py)
sys.path.insert(0, os.path.dirname(__file__))
import gguf
from train import CONFIG, SPECIAL
import sentencepiece as spm

# One user/assistant exchange per turn; the answer ends with <|end|> (the end-of-generation token).
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}<|system|>{{ message['content'] }}<|end|>"
    "{% elif message['role'] == 'user' %}<|user|>{{ message['content'] }}<|end|>"
    "{% elif message['role'] == 'assistant' %}<|assistant|>{{ message['content'] }}<|end|>"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

c = CONFIG
state = torch.load(os.path.join(work, "ckpt.pt"), map_location="cpu")["model"]
sp = spm.SentencePieceProcessor(model_file=os.path.join(work, "tokenizer.model"))

w = gguf.GGUFWriter(out + ".tmp", "llama")
w.add_name("tiny-assistant")
w.add_context_length(2048)
w.add_embedding_length(c["dim"])
w.add_block_count(c["layers"])
w.add_feed_forward_length(c["ffn"])
w.add_head_count(c["heads"])
w.add_head_count_kv(c["kv_heads"])
w.add_layer_norm_rms_eps(c["norm_eps"])
w.add_rope_dimension_count(c["dim"] // c["heads"])
w.add_rope_freq_base(c["rope_theta"])
w.add_vocab_size(c["vocab"])
w.add_file_type(gguf.LlamaFileType.ALL_F32)

tokens, scores, types = [], [], []
for i in range(sp.get_piece_size()):
    tokens.append(sp.id_to_piece(i).encode("utf-8"))
    scores.append(sp.get_score(i))
    if sp.is_unknown(i): t = gguf.TokenType.UNKNOWN
    elif sp.is_control(i): t = gguf.TokenType.CONTROL
    elif sp.is_byte(i): t = gguf.TokenType.BYTE
    elif sp.is_unused(i): t = gguf.TokenType.UNUSED
    else: t = gguf.TokenType.NORMAL
    types.append(t)
w.add_tokenizer_model("llama")
w.add_token_list(tokens)
w.add_token_scores(scores)
w.add_token_types(types)
w.add_bos_token_id(sp.bos_id())
end = sp.piece_to_id("<|end|>")
w.add_eos_token_id(end)
w.add_eot_token_id(end)
w.add_unk_token_id(sp.unk_id())
w.add_add_bos_token(True)
w.add_add_eos_token(False)
w.add_add_space_prefix(False)
w.add_chat_template(CHAT_TEMPLATE)

def t(name):
    return state[name].float().numpy().astype(np.float32)
w.add_tensor("token_embd.weight", t("tok.weight"))
for i in range(c["layers"]):
    p = f"blocks.{i}."
    for src, dst in [("attn_norm.weight", "attn_norm"), ("wq.weight", "attn_q"), ("wk.weight", "attn_k"), ("wv.weight", "attn_v"),
                     ("wo.weight", "attn_output"), ("ffn_norm.weight", "ffn_norm"), ("w1.weight", "ffn_gate"),
                     ("w3.weight", "ffn_up"), ("w2.weight", "ffn_down")]:
        w.add_tensor(f"blk.{i}.{dst}.weight", t(p + src))
w.add_tensor("output_norm.weight", t("norm.weight"))
w.add_tensor("output.weight", t("out.weight"))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
os.replace(out + ".tmp", out)
print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB)")
