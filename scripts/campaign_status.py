#!/usr/bin/env python3
"""Writes the campaign's status into docs/results/gsm8k-qwen.md from the committed records.

Fills the `<!-- MINED_STATUS -->` and `<!-- LEFT -->` markers: prompts mined (and failed) per
block, how many of the first TARGET prompts are left, and the one-thread hours that leaves at
the mean wall time of the prompts mined while nothing else ran (QUIET below: the records named
in gsm8k-qwen.md, read from their `wall_ms`). `scripts/campaign.sh commit` runs it.

Usage: scripts/campaign_status.py [--check]   (--check: exit 1 if the doc is stale)
"""
import glob
import json
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")
DOC = os.path.join(ROOT, "docs/results/gsm8k-qwen.md")
MINED = os.path.join(ROOT, "docs/results/showcase-qwen/mined")
TARGET = 200
# Prompts mined on a quiet machine (two one-thread processes, nothing else running).
QUIET = {"b0000": [5, 6], "b0050": [52, 53, 54, 55]}


def records():
    out = {}
    for path in sorted(glob.glob(os.path.join(MINED, "b*", "records.jsonl"))):
        block = os.path.basename(os.path.dirname(path))
        with open(path) as f:
            lines = [line for line in f if line.strip()]
        parsed = []
        for i, line in enumerate(lines):
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                if i != len(lines) - 1:
                    raise
                # A line being appended (mine cuts a torn last line when it resumes).
        out[block] = parsed
    return out


def main():
    blocks = records()
    all_records = [r for rs in blocks.values() for r in rs]
    failed = sum(1 for r in all_records if r.get("status") != "mined")
    quiet = [r["wall_ms"] for b, idx in QUIET.items() for r in blocks.get(b, []) if r["index"] in idx]
    if len(quiet) != sum(len(v) for v in QUIET.values()):
        sys.exit(f"campaign_status: the quiet prompts {QUIET} are not all committed")
    mean_s = sum(quiet) / len(quiet) / 1000
    names = ", ".join(f"`{b}`" for b in blocks)
    status = f"{len(all_records)} prompts" + (f" ({failed} failed)" if failed else "")
    status += f" (blocks {names}, resumable)"
    left = max(TARGET - len(all_records), 0)
    hours = left * mean_s / 3600
    left_text = (
        f"Left of the first {TARGET} prompts: {left}. At the mean of the {len(quiet)} eight-shot "
        f"prompts mined on a quiet machine ({mean_s:.0f} s of one thread), that is about "
        f"{hours:.1f} one-thread hours, {hours / 2:.1f} on this 2-core machine when it is quiet "
        "(builds in the foreground slow the nice-19 campaign several-fold). "
        "`scripts/showcase_cost.py` projects from every committed prompt, including those slowed "
        "by builds, and so gives more. The evaluation's cost on the eight-shot prompt is measured "
        "when its first block runs."
    )
    with open(DOC) as f:
        text = f.read()
    new = text
    for marker, value in [("MINED_STATUS", status), ("LEFT", left_text)]:
        pattern = re.compile(rf"(<!-- {marker} -->).*?(<!-- /{marker} -->)", re.S)
        if not pattern.search(new):
            sys.exit(f"campaign_status: no {marker} marker in {DOC}")
        new = pattern.sub(lambda m: m.group(1) + value + m.group(2), new)
    if "--check" in sys.argv[1:]:
        sys.exit(0 if new == text else 1)
    if new != text:
        with open(DOC, "w") as f:
            f.write(new)
    print(f"campaign_status: {status}; {left} left, about {hours:.1f} one-thread hours")


if __name__ == "__main__":
    main()
