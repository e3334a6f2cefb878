#!/usr/bin/env python3
"""llama.cpp's plain greedy decoding speed on the prompts of a `dtype-agreement --json` file
(token ids, chat template applied): tokens per second of wall time including the prefill, the
figure `bench-decode` reports for our target-only and speculative decoding.

  $LLAMACPP_VENV/bin/python scripts/llamacpp_greedy_speed.py MODEL.gguf AGREEMENT.json [MAX_NEW]
"""
import json
import sys
import time

import numpy as np
from llama_cpp import Llama

model, path = sys.argv[1:3]
max_new = int(sys.argv[3]) if len(sys.argv) > 3 else 256
rows = json.load(open(path))
llm = Llama(model_path=model, n_ctx=2048, n_batch=512, n_threads=2, n_threads_batch=2, verbose=False)
eos = llm.token_eos()
vocab = llm.n_vocab()
tokens, secs = 0, 0.0
for r in rows:
    llm.reset()
    t = time.perf_counter()
    llm.eval(r["prompt_ids"])
    n = 0
    while n < max_new:
        nxt = int(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(vocab,)).argmax())
        n += 1
        if nxt == eos:
            break
        llm.eval([nxt])
    secs += time.perf_counter() - t
    tokens += n
print(f"llama.cpp plain greedy: {len(rows)} prompts, {tokens} tokens in {secs:.1f} s = {tokens / secs:.2f} tok/s (prefill included, max {max_new} new tokens)")
