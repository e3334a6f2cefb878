#!/usr/bin/env python3
"""Golden logits of llama.cpp (through llama-cpp-python) for the quantized path: the prompt of
an HF golden fixture (same token ids), the top-8 logits at every position and the greedy
32-token continuation, computed by llama.cpp's own quantized kernels on the GGUF file.

  $LLAMACPP_VENV/bin/python scripts/golden/make_llamacpp_fixture.py MODEL.gguf \
      tests/fixtures/smollm2_golden.json tests/fixtures/smollm2_llamacpp_golden.json
"""
import json
import sys

import numpy as np
from llama_cpp import Llama, __version__

model, hf_fixture, out = sys.argv[1:4]
src = json.load(open(hf_fixture))
prompt = src["prompt_ids"]
llm = Llama(model_path=model, n_ctx=512, n_batch=512, n_threads=2, logits_all=True, verbose=False)
llm.eval(prompt)
topk = []
for pos in range(len(prompt)):
    row = np.array(llm.scores[pos])
    ids = np.argsort(-row)[:8]
    topk.append({"position": pos, "ids": [int(i) for i in ids], "logits": [float(row[i]) for i in ids]})
greedy = []
nxt = int(np.argmax(llm.scores[len(prompt) - 1]))
for _ in range(32):
    greedy.append(nxt)
    llm.eval([nxt])
    nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
json.dump(
    {
        "text": src["text"],
        "prompt_ids": prompt,
        "topk": topk,
        "greedy": greedy,
        "reference": f"llama.cpp via llama-cpp-python {__version__}, its quantized CPU kernels, 2 threads",
    },
    open(out, "w"),
)
print(f"wrote {out}: {len(prompt)} positions, greedy {greedy[:8]}...")
