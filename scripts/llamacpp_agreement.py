#!/usr/bin/env python3
"""llama.cpp's greedy outputs on the prompts of a `dtype-agreement --json` file, compared with
that file's reference (f32) outputs: the same figure for llama.cpp's quantized kernels, so our
quantized path's agreement is read against a peer's, not against zero.

  $LLAMACPP_VENV/bin/python scripts/llamacpp_agreement.py MODEL.gguf AGREEMENT.json [MAX_NEW]

MAX_NEW (default 64) must be the `--max-new-tokens` of the agreement run.
"""
import json
import sys

import numpy as np
from llama_cpp import Llama

model, path = sys.argv[1:3]
max_new = int(sys.argv[3]) if len(sys.argv) > 3 else 64
rows = json.load(open(path))
llm = Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=2, logits_all=True, verbose=False)
eos = llm.token_eos()
changed = []
for r in rows:
    llm.reset()
    llm.eval(r["prompt_ids"])
    out = []
    ref = r["reference_output"]
    # A reference shorter than MAX_NEW ended on an end-of-sequence id of our stop set.
    stops = {eos} | ({ref[-1]} if 0 < len(ref) < max_new else set())
    while len(out) < max_new:
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(nxt)
        if nxt in stops:
            break
        llm.eval([nxt])
    if out != ref:
        changed.append(next((i for i, (a, b) in enumerate(zip(out, ref)) if a != b), min(len(out), len(ref))))
changed.sort()
print(f"llama.cpp vs reference: identical {len(rows) - len(changed)}/{len(rows)}; changed outputs first differ at tokens {changed}")
