#!/usr/bin/env python3
"""Zero-shot against eight-shot GSM8K wording, from mined records of the same train prompts.

For each mined directory (one per wording) and the first N prompts it holds, prints one row:
lm-eval's strict match answer rate on the greedy responses (decoded independently of
autojudge-rs, scripts/strict_match_rate.py), the recorded answer rate (phrase or `\\boxed{}`),
the target's accuracy against the gold, response length, mismatches and important share, the
mining work per prompt (target tokens beyond the prompt's prefill, target calls, draft tokens)
and wall seconds per prompt (one thread; noisy when other jobs share the cores, the work
counters are not). Each rate has its exact (Clopper-Pearson) 95% interval.

    pip install gguf scipy
    scripts/wording_comparison.py MODEL.gguf N LABEL=MINED_DIR[,MINED_DIR...] [LABEL=... ...]

N: the first N prompts (by dataset line) of each label's directories together.
"""
import json
import os
import sys

from scipy.stats import beta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from strict_match_rate import decoder, strict  # noqa: E402


def clopper_pearson(k, n):
    lo = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    hi = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    return lo, hi


def rate(k, n):
    lo, hi = clopper_pearson(k, n)
    return f"{k}/{n} = {k / n:.2f} [{lo:.2f}, {hi:.2f}]"


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    decode = decoder(sys.argv[1])
    n_wanted = int(sys.argv[2])

    print(f"Up to {n_wanted} mined GSM8K train prompts per wording, the first by dataset line "
          f"in its directories (Qwen2.5-Coder-1.5B-Instruct target, 0.5B draft):\n")
    print("| wording | prompts | strict-match answer [95% CI] | answer, phrase or boxed [95% CI] "
          "| accuracy [95% CI] | prompt tokens | response tokens | mismatches/response | important "
          "| target tokens/prompt beyond prefill | target calls/prompt | draft tokens/prompt "
          "| wall s/prompt |")
    print("| --- " * 13 + "|")
    for arg in sys.argv[3:]:
        label, dirs = arg.split("=", 1)
        recs = []
        for d in dirs.split(","):
            with open(os.path.join(d, "records.jsonl")) as f:
                for line in f:
                    if not line.endswith("\n"):
                        continue
                    r = json.loads(line)
                    if r.get("status") == "mined":
                        recs.append(r)
        recs = sorted(recs, key=lambda r: r["index"])[:n_wanted]
        n = len(recs)
        if n == 0:
            sys.exit(f"{dirs}: no mined prompt")
        strict_n = sum(strict(decode(r["response"])) is not None for r in recs)
        answered = sum(r.get("answer") is not None for r in recs)
        correct = sum(r.get("answer") is not None and r.get("answer") == r.get("gold") for r in recs)
        mism = sum(len(r.get("mismatches", [])) for r in recs)
        important = sum(sum(1 for m in r.get("mismatches", []) if m.get("important")) for r in recs)
        beyond = sum(r["work"]["target_tokens"] - r["prompt_tokens"] for r in recs)

        def mean(f):
            return sum(f(r) for r in recs) / n

        print(f"| {label} | {n} | {rate(strict_n, n)} | {rate(answered, n)} | {rate(correct, n)} "
              f"| {mean(lambda r: r['prompt_tokens']):.0f} | {mean(lambda r: len(r['response'])):.0f} "
              f"| {mism / n:.1f} | {important}/{mism} = {important / max(mism, 1):.2f} "
              f"| {beyond / n:.0f} | {mean(lambda r: r['work']['target_calls']):.0f} "
              f"| {mean(lambda r: r['work']['draft_tokens']):.0f} "
              f"| {mean(lambda r: r['wall_ms'] / 1000):.0f} |")


if __name__ == "__main__":
    main()
