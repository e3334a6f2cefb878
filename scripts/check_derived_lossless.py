#!/usr/bin/env python3
"""Derived lossless lines against measured ones, prompt by prompt.

Reads the `lossless` lines of evaluation directories run with `--lossless measured` (MEASURED)
and with `--lossless derived` (DERIVED) on the same prompts, window and settings, and compares
every counter a derivation promises: cycles, emitted, drafted, accepted, the accepted-per-cycle
histogram, acceptance by window position, target calls and draft calls, plus the output length
and answer. Prints one line per prompt that differs and a total; exits 1 on any difference or
when no prompt is shared.

    scripts/check_derived_lossless.py --measured DIR [DIR ...] --derived DIR [DIR ...]
"""
import argparse
import glob
import json
import os
import sys

COUNTERS = ("cycles", "emitted", "drafted", "accepted", "accepted_hist", "reached_at",
            "accepted_at", "target_calls", "draft_calls")


def lossless_lines(dirs):
    lines = {}
    settings = None
    for d in dirs:
        with open(os.path.join(d, "eval.json")) as f:
            s = json.load(f)
        if settings is not None and s != settings:
            sys.exit(f"{d}: settings differ from the other directories'")
        settings = s
        for path in glob.glob(os.path.join(d, "results.jsonl")):
            with open(path) as f:
                for raw in f:
                    if not raw.endswith("\n"):
                        continue
                    r = json.loads(raw)
                    if r["method"] == "lossless":
                        lines[r["index"]] = r
    return settings, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--measured", nargs="+", required=True)
    ap.add_argument("--derived", nargs="+", required=True)
    a = ap.parse_args()
    ms, measured = lossless_lines(a.measured)
    ds, derived = lossless_lines(a.derived)
    if ms != ds:
        sys.exit(f"settings differ:\n measured {ms}\n derived  {ds}")
    shared = sorted(set(measured) & set(derived))
    if not shared:
        sys.exit("no prompt has both a measured and a derived lossless line")
    differing = 0
    for i in shared:
        m, d = measured[i], derived[i]
        if m.get("derived") or not d.get("derived"):
            sys.exit(f"prompt {i}: the measured line is derived or the derived line is measured")
        diffs = [c for c in COUNTERS if m["stats"][c] != d["stats"][c]]
        diffs += [f for f in ("tokens", "answer") if m[f] != d[f]]
        if diffs:
            differing += 1
            print(f"prompt {i}: " + ", ".join(
                f"{c} measured {m['stats'].get(c, m.get(c))} derived {d['stats'].get(c, d.get(c))}"
                for c in diffs))
    print(f"{len(shared)} prompts compared (k={ms['k']}), {differing} differ in any of: "
          f"{', '.join(COUNTERS)}, tokens, answer")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
