#!/usr/bin/env python3
"""An independent implementation of the reference's important-token search, as a label fixture.

It follows the semantics of garipovroma/autojudge `src/find_important_tokens.py` with the
settings autojudge-rs calls `--labels reference` (docs/mining.md lists where they differ):

- prompt: the reference's zero-shot GSM8K wording as the user turn of the model's chat
  template (with the assistant header);
- the target's greedy response `y` (up to MAX_NEW new tokens, stopping at an EOS, which it
  keeps) and its answer `a` by lm-eval's `gsm8k_cot_llama` strict match;
- walk the draft's greedy mismatches left to right on the current response (teacher forcing);
  swap the draft token in, let the target finish greedily, compare the strict-match answer
  with `a`: same -> unimportant (the swapped response becomes current), else important;
- a draft EOS ends the swapped response, and mining stops after testing it.

Models: the target is SmolLM2-135M-Instruct Q4_1, loaded by HF transformers' GGUF loader
(dequantized to f32); the draft is its early exit after 24 of 30 layers, computed here from
HF's per-layer hidden states, the final norm and the LM head. Greedy continuations use
transformers' `generate`. Nothing here imports autojudge-rs code.

Usage: python3 scripts/golden/make_mining_fixture.py [--smollm PATH] [--out tests/fixtures/reference_labels.json]
Install: pip install torch transformers gguf numpy accelerate   (CPU is enough; a few minutes)
"""
import argparse, json, os, re

import torch

PREAMBLE = "Given the following problem, reason and give a final answer to the problem."
INSTRUCTION = ('Your response should end with "The final answer is [answer]" where [answer] '
               'is the response to the problem.')
STRICT = re.compile(r"The final answer is ((-?[$0-9.,]{2,})|(-?[0-9]+))")
EXIT_LAYER = 24


def strict_match(text):
    """lm-eval's strict-match filter and its exact_match ignores (",", "$", one final ".")."""
    found = STRICT.findall(text)
    if not found:
        return None
    groups = [g for g in found[-1] if g]
    s = groups[0].strip().replace(",", "").replace("$", "")
    return re.sub(r"\.$", "", s)


class Pair:
    def __init__(self, path):
        from transformers import AutoModelForCausalLM, AutoTokenizer
        d, f = os.path.split(os.path.abspath(path))
        self.tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
        self.model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
        eos = self.model.generation_config.eos_token_id
        self.eos = sorted(set(eos if isinstance(eos, list) else [eos]))

    def prompt_ids(self, question):
        text = f"{PREAMBLE}\n{question}\n{INSTRUCTION}"
        rendered = self.tok.apply_chat_template([{"role": "user", "content": text}],
                                                tokenize=False, add_generation_prompt=True)
        return self.tok(rendered, add_special_tokens=False)["input_ids"]

    def answer(self, response):
        return strict_match(self.tok.decode(response, skip_special_tokens=True))

    @torch.no_grad()
    def continue_greedy(self, ids, max_len):
        """`ids` extended by the target's greedy tokens until an EOS or `max_len` tokens."""
        if ids[-1] in self.eos or len(ids) >= max_len:
            return list(ids)
        out = self.model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                  do_sample=False, max_length=max_len, eos_token_id=self.eos,
                                  pad_token_id=self.eos[0], temperature=None, top_p=None, top_k=None)
        return out[0].tolist()

    @torch.no_grad()
    def draft_argmax(self, ids):
        """The early-exit draft's argmax after each prefix of `ids` (row i predicts ids[i+1])."""
        h = self.model.model(torch.tensor([ids]), output_hidden_states=True).hidden_states[EXIT_LAYER]
        return self.model.lm_head(self.model.model.norm(h))[0].argmax(-1).tolist()


def mine(pair, prompt, max_new):
    p = len(prompt)
    max_len = p + max_new
    y = pair.continue_greedy(prompt, max_len)[p:]
    a = pair.answer(y)
    current, left, mismatches = list(y), 0, []
    while True:
        seq = prompt + current
        preds = pair.draft_argmax(seq[:-1])[p - 1:]
        j = next((j for j in range(left, len(current)) if preds[j] != current[j]), None)
        if j is None:
            break
        d = preds[j]
        swapped = pair.continue_greedy(prompt + current[:j] + [d], max_len)[p:]
        got = pair.answer(swapped)
        important = got != a
        mismatches.append({"position": j, "important": important, "target_token": current[j],
                           "draft_token": d, "swapped_answer": got, "swapped_len": len(swapped)})
        if not important:
            current = swapped
        if d in pair.eos:
            break
        left = j + 1
    return {"response": y, "answer": a, "final_response": current, "mismatches": mismatches}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smollm", default=os.environ.get(
        "AUTOJUDGE_SMOLLM", os.path.expanduser("~/.cache/autojudge/models/SmolLM2-135M-Instruct.Q4_1.gguf")))
    ap.add_argument("--data", default="data/gsm8k/train.jsonl")
    ap.add_argument("--out", default="tests/fixtures/reference_labels.json")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--prompts", type=int, default=3, help="prompts kept (those whose greedy response ends with EOS and an answer)")
    ap.add_argument("--scan", type=int, default=20, help="train lines scanned for them")
    a = ap.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    pair = Pair(a.smollm)
    with open(a.data) as f:
        lines = [json.loads(l) for l in f][:a.scan]
    records = []
    for i, line in enumerate(lines):
        prompt = pair.prompt_ids(line["question"])
        rec = mine(pair, prompt, a.max_new_tokens)
        ends = rec["response"] and rec["response"][-1] in pair.eos
        print(f"line {i}: {len(rec['response'])} tokens, answer {rec['answer']}, "
              f"{len(rec['mismatches'])} mismatches, {'kept' if ends and rec['answer'] else 'skipped'}", flush=True)
        if ends and rec["answer"] is not None:
            records.append({"line": i, "prompt_ids": prompt, **rec})
        if len(records) == a.prompts:
            break
    out = {"reference": "scripts/golden/make_mining_fixture.py: HF transformers GGUF loader (f32), "
                        f"early exit after {EXIT_LAYER} layers as the draft, torch CPU",
           "max_new_tokens": a.max_new_tokens, "eos_ids": pair.eos, "records": records}
    with open(a.out, "w") as f:
        json.dump(out, f)
    print("wrote", a.out, "with", sum(len(r["mismatches"]) for r in records), "labels")


if __name__ == "__main__":
    main()
