#!/usr/bin/env python3
"""What the showcase at scale has done and what is left, in one-thread hours.

Reads the committed blocks of scripts/showcase-qwen.sh (mined records and evaluation result
lines), measures the one-thread cost of a mined prompt and of one method on one test prompt,
and projects the remaining work of the plan (the script's defaults, or the numbers given).

    scripts/showcase_cost.py [OUT] [--mine 200] [--eval 200] [--sweep 100] [--sweep-ks 16]
                             [--methods 20]

--methods: generations per test prompt that cost a run (target-only, JuDi at 2 tau, one judge at
3 thresholds; lossless is derived from target-only's output at a small fraction of a run).
"""
import argparse
import glob
import json
import os


def wall_seconds(stats):
    w = stats["wall_time"]
    return w["secs"] + w["nanos"] / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default="docs/results/showcase-qwen")
    ap.add_argument("--mine", type=int, default=200)
    ap.add_argument("--eval", type=int, default=200)
    ap.add_argument("--sweep", type=int, default=100)
    ap.add_argument("--sweep-ks", default="16")
    ap.add_argument("--methods", type=int, default=6)
    a = ap.parse_args()

    mined, mine_s = 0, 0.0
    for path in sorted(glob.glob(os.path.join(a.out, "mined", "b*", "records.jsonl"))):
        with open(path) as f:
            for line in f:
                if not line.endswith("\n"):
                    continue
                r = json.loads(line)
                mined += 1
                mine_s += r.get("wall_ms", 0) / 1000
    per_prompt_mine = mine_s / max(mined, 1)

    per_window = {}
    for path in sorted(glob.glob(os.path.join(a.out, "eval-gsm8k", "k*", "b*", "results.jsonl"))):
        k = int(path.split(os.sep)[-3][1:])
        w = per_window.setdefault(k, {"prompts": set(), "lines": 0, "seconds": 0.0})
        with open(path) as f:
            for line in f:
                if not line.endswith("\n"):
                    continue
                r = json.loads(line)
                w["prompts"].add(r["index"])
                w["lines"] += 1
                w["seconds"] += wall_seconds(r["stats"])
    lines = sum(w["lines"] for w in per_window.values())
    per_method = sum(w["seconds"] for w in per_window.values()) / max(lines, 1)

    print(f"mined: {mined} prompts, {per_prompt_mine:.0f} s per prompt (one thread)")
    for k, w in sorted(per_window.items()):
        print(
            f"eval k={k}: {len(w['prompts'])} prompts, {w['lines']} method runs, "
            f"{w['seconds'] / max(w['lines'], 1):.1f} s per method run"
        )
    done_eval = {k: len(w["prompts"]) for k, w in per_window.items()}
    main_k = 8
    left = {
        "mining": max(a.mine - mined, 0) * per_prompt_mine,
        f"evaluation k={main_k}": (
            a.eval * a.methods - per_window.get(main_k, {"lines": 0})["lines"]
        )
        * per_method,
    }
    for k in (int(x) for x in a.sweep_ks.split(",") if x):
        done = per_window.get(k, {"lines": 0})["lines"]
        left[f"sweep k={k}"] = max(a.sweep * a.methods - done, 0) * per_method
    if lines == 0:
        for name in left:
            if name != "mining":
                left[name] = float("nan")
    total = sum(v for v in left.values() if v == v)
    print(f"\nleft of the plan ({a.mine} mined, {a.eval} test prompts x {a.methods} methods at "
          f"k={main_k}, {a.sweep} at k={a.sweep_ks}), one-thread hours, HumanEval aside:")
    for name, s in left.items():
        print(f"  {name}: " + (f"{s / 3600:.1f}" if s == s else "unknown (no evaluation block yet)"))
    print(f"  total: {total / 3600:.1f} (on 2 cores {total / 7200:.1f} h, on 16 cores "
          f"{total / 57600:.1f} h)")
    print(f"test prompts evaluated so far per window: {done_eval}")


if __name__ == "__main__":
    main()
