#!/usr/bin/env python3
"""Golden fixtures for autojudge-models, produced by trusted references.

- Dequantization: gguf-py (llama.cpp's own Python package) on random blocks of every
  supported GGML type, and on slices of the real SmolLM2 GGUF.
- Tiny random models (Llama, Qwen2 with biases, Llama-3.1 RoPE scaling): HF transformers
  builds them from a torch seed and saves them as HF directories; we record top-k logits at
  every position of a fixed token sequence and the greedy 32-token continuation.
- SmolLM2-135M-Instruct Q4_1: HF transformers' GGUF loader (dequantizes to f32), the same
  record for a fixed chat prompt, plus the prompt's token ids (checks our GGUF tokenizer).

Usage: python3 scripts/golden/make_fixtures.py [--smollm PATH] [--out tests/fixtures]
Install: pip install torch transformers gguf numpy   (CPU is enough)
"""
import argparse, json, os, shutil, tempfile
import numpy as np
import torch

TOPK = 8


def record(model, ids, n_new=32):
    # Greedy by full forwards (no KV cache, no generate() heuristics such as pad-token masks).
    seq = list(ids)
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
        for _ in range(n_new):
            seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
    top = []
    for p in range(len(ids)):
        v, i = torch.topk(logits[p], TOPK)
        top.append({"position": p, "ids": i.tolist(), "logits": [float(x) for x in v]})
    return {"prompt_ids": ids, "topk": top, "greedy": seq[len(ids):]}


def dequant_fixtures(smollm):
    from gguf import GGMLQuantizationType as T, quants, GGUFReader
    rng = np.random.default_rng(7)
    # (type, block bytes, byte offsets of f16 scale fields)
    layouts = {
        "F16": (T.F16, 2, []), "BF16": (T.BF16, 2, None),
        "Q4_0": (T.Q4_0, 18, [0]), "Q4_1": (T.Q4_1, 20, [0, 2]), "Q5_0": (T.Q5_0, 22, [0]),
        "Q5_1": (T.Q5_1, 24, [0, 2]), "Q8_0": (T.Q8_0, 34, [0]),
        "Q4_K": (T.Q4_K, 144, [0, 2]), "Q5_K": (T.Q5_K, 176, [0, 2]), "Q6_K": (T.Q6_K, 210, [208]),
    }
    cases = []
    for name, (qt, bb, scale_offs) in layouts.items():
        nblocks = 64 if bb == 2 else 3
        raw = bytearray(rng.integers(0, 256, size=nblocks * bb, dtype=np.uint8).tobytes())
        if name == "F16" or name == "BF16":
            vals = rng.normal(size=nblocks).astype(np.float32)
            raw = bytearray((vals.astype(np.float16) if name == "F16" else
                             (vals.view(np.uint32) >> 16).astype(np.uint16)).tobytes())
        else:
            for b in range(nblocks):
                for off in scale_offs:
                    s = np.float16(rng.uniform(-0.05, 0.05)).tobytes()
                    raw[b * bb + off: b * bb + off + 2] = s
        arr = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(1, -1)
        deq = quants.dequantize(arr, qt).reshape(-1).astype(np.float32)
        cases.append({"type": name, "hex": bytes(raw).hex(), "values": deq.tolist()})
    real = []
    if smollm:
        r = GGUFReader(smollm)
        for t in r.tensors:
            if t.name in ("blk.0.attn_q.weight", "token_embd.weight", "blk.3.ffn_down.weight"):
                row = quants.dequantize(t.data, t.tensor_type)
                flat = np.asarray(row, dtype=np.float32).reshape(-1)
                real.append({"tensor": t.name, "type": t.tensor_type.name,
                             "first": flat[:1024].tolist(), "last": flat[-256:].tolist(),
                             "count": int(flat.size), "sum": float(flat.astype(np.float64).sum())})
    return {"blocks": cases, "smollm_tensors": real}


def byte_tokenizer(dirpath, vocab_size):
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    from tokenizers.pre_tokenizers import ByteLevel
    alphabet = ByteLevel.alphabet()
    vocab = {c: i for i, c in enumerate(sorted(alphabet))}
    merges = []
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    assert tok.get_vocab_size() <= vocab_size
    tok.save(os.path.join(dirpath, "tokenizer.json"))
    with open(os.path.join(dirpath, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": "<|endoftext|>", "bos_token": None, "add_bos_token": False,
                   "chat_template": "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
                                    "{% if add_generation_prompt %}<assistant>{% endif %}"}, f)


def tiny_models(out):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
    common = dict(vocab_size=260, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  rms_norm_eps=1e-5, eos_token_id=256, bos_token_id=None)
    specs = {
        "tiny-llama": (LlamaForCausalLM, LlamaConfig(**common, rope_theta=10000.0, tie_word_embeddings=False)),
        "tiny-qwen2": (Qwen2ForCausalLM, Qwen2Config(**common, rope_theta=1000000.0, tie_word_embeddings=True)),
        "tiny-llama31": (LlamaForCausalLM, LlamaConfig(**common, rope_theta=500000.0, tie_word_embeddings=True,
                         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 64})),
    }
    ids = [int(x) for x in np.random.default_rng(3).integers(0, 256, size=48)]
    for name, (cls, cfg) in specs.items():
        torch.manual_seed(11)
        model = cls(cfg).float().eval()
        with torch.no_grad():  # peakier than the default init so greedy paths are not ties
            for p in model.parameters():
                if p.dim() == 2:
                    p.mul_(8.0)
        d = os.path.join(out, name)
        shutil.rmtree(d, ignore_errors=True)
        model.save_pretrained(d, safe_serialization=True)
        byte_tokenizer(d, cfg.vocab_size)
        for junk in ("generation_config.json",):
            p = os.path.join(d, junk)
            if os.path.exists(p):
                os.remove(p)
        with open(os.path.join(d, "golden.json"), "w") as f:
            json.dump(record(model, ids), f)


def smollm_golden(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    d, f = os.path.split(os.path.abspath(path))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    text = ("<|im_start|>user\nNatalia sold clips to 48 of her friends in April, and then she sold half "
            "as many clips in May. How many clips did Natalia sell altogether?<|im_end|>\n<|im_start|>assistant\n")
    ids = tok(text, add_special_tokens=False)["input_ids"]
    rec = record(model, ids)
    rec["text"] = text
    rec["reference"] = "transformers GGUF loader (dequantized f32), torch CPU"
    return rec


def qwen_golden(path):
    """Opt-in: the showcase target (Qwen2.5-Coder-1.5B-Instruct Q4_K_M), same record."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    d, f = os.path.split(os.path.abspath(path))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    text = ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nJanet has 3 apples and buys 5 more. How many apples does she have?<|im_end|>\n"
            "<|im_start|>assistant\n")
    ids = tok(text, add_special_tokens=False)["input_ids"]
    rec = record(model, ids)
    rec["text"] = text
    rec["reference"] = "transformers GGUF loader (dequantized f32), torch CPU"
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smollm", default=os.environ.get("AUTOJUDGE_SMOLLM", "../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default="tests/fixtures")
    ap.add_argument("--qwen", default=None, help="also write qwen_golden.json for this GGUF (opt-in test)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(2)
    smollm = a.smollm if os.path.exists(a.smollm) else None
    with open(os.path.join(a.out, "dequant.json"), "w") as f:
        json.dump(dequant_fixtures(smollm), f)
    tiny_models(a.out)
    if smollm:
        with open(os.path.join(a.out, "smollm2_golden.json"), "w") as f:
            json.dump(smollm_golden(smollm), f)
    if a.qwen:
        with open(os.path.join(a.out, "qwen_golden.json"), "w") as f:
            json.dump(qwen_golden(a.qwen), f)
    print("fixtures written to", a.out)


if __name__ == "__main__":
    main()
