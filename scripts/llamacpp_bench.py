#!/usr/bin/env python3
"""llama.cpp's side of scripts/bench-vs-llamacpp.sh: the measurements `autojudge bench-model`
makes, through llama-cpp-python, on the same GGUF file with the same prompt tokens.

Prints, in bench-model's format:
  prefill N tokens: S s            (last row's logits only)
  decode: M ms/token               (median one-token step after the prefill)
  k  ms/extend                     (median time to extend by k tokens with all k rows' logits,
                                    the work of verifying k draft tokens, then rolling back)
"""
import argparse
import statistics
import time

import numpy as np
from llama_cpp import Llama


def last_logits(llm):
    """The logits of the last evaluated token (the only row computed without all-logits)."""
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prefill", type=int, default=128)
    p.add_argument("--decode", type=int, default=64)
    p.add_argument("--ks", default="1,8")
    p.add_argument("--reps", type=int, default=10)
    a = p.parse_args()
    llm = Llama(
        model_path=a.model,
        n_ctx=1024,
        n_batch=512,
        n_threads=a.threads,
        n_threads_batch=a.threads,
        logits_all=True,
        verbose=False,
    )
    vocab = llm.n_vocab()
    # The prompt tokens bench-model uses.
    tokens = [100 + (i * 2_654_435_761) % (vocab - 100) for i in range(a.prefill)]
    llm._logits_all = False
    llm.eval(tokens[:8])  # warm-up
    prefills = []
    for _ in range(3):  # the median of three, as bench-model reports
        llm.n_tokens = 0
        t = time.perf_counter()
        llm.eval(tokens)
        prefills.append(time.perf_counter() - t)
    prefill = statistics.median(prefills)
    print(f"prefill {a.prefill} tokens: {prefill:.3f}s = {a.prefill / prefill:.1f} tok/s (median of 3)")
    steps = []
    nxt = int(last_logits(llm).argmax())
    for _ in range(max(a.decode, 1)):
        t = time.perf_counter()
        llm.eval([nxt])
        nxt = int(last_logits(llm).argmax())
        steps.append(time.perf_counter() - t)
    dec = statistics.median(steps)
    print(f"decode: {dec * 1e3:.2f} ms/token = {1 / dec:.2f} tok/s")
    base = llm.n_tokens
    llm._logits_all = True
    print(f"{'k':>4} {'ms/extend (median)':>20} {'x decode':>12} {'ms/token':>14}")
    for k in [int(v) for v in a.ks.split(",")]:
        window = [tokens[(k + i) % len(tokens)] for i in range(k)]
        llm.eval(window)
        llm.n_tokens = base
        reps = []
        for _ in range(max(a.reps, 1)):
            t = time.perf_counter()
            llm.eval(window)
            reps.append(time.perf_counter() - t)
            llm.n_tokens = base
        per = statistics.median(reps)
        print(f"{k:>4} {per * 1e3:>20.2f} {per / dec:>12.2f} {per * 1e3 / k:>14.2f}")


if __name__ == "__main__":
    main()
