#!/usr/bin/env python3
"""llama.cpp's greedy outputs on the prompts of a `dtype-agreement --json` file, compared with
that file's reference (f32) outputs: the same figure for llama.cpp's quantized kernels, so our
quantized path's agreement is read against a peer's, not against zero.

  $LLAMACPP_VENV/bin/python scripts/llamacpp_agreement.py MODEL.gguf AGREEMENT.json
"""
import json
import sys

import numpy as np
from llama_cpp import Llama

model, path = sys.argv[1:3]
rows = json.load(open(path))
eos = None
llm = Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=2, logits_all=True, verbose=False)
eos = llm.token_eos()
changed = []
for r in rows:
    llm.reset()
    llm.eval(r["prompt_ids"])
    out = []
    n = max(len(r["reference_output"]), len(r["output"]))
    limit = 64 if n >= 64 else n
    while len(out) < limit:
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(nxt)
        if nxt == eos:
            break
        llm.eval([nxt])
    ref = r["reference_output"]
    if out != ref:
        changed.append(next((i for i, (a, b) in enumerate(zip(out, ref)) if a != b), min(len(out), len(ref))))
changed.sort()
print(f"llama.cpp vs reference: identical {len(rows) - len(changed)}/{len(rows)}; changed outputs first differ at tokens {changed}")
