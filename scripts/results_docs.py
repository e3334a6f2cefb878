#!/usr/bin/env python3
"""Regenerate the results tables in the docs from the committed raw files (issue 29).

    scripts/results_docs.py           rewrite every generated block in place
    scripts/results_docs.py --check   change nothing; print a unified diff per file and exit 1
                                      when a generated block differs from what its raw file gives

A generated block is a Markdown region between two HTML comments, each on a line of its own
(outside fenced code):

    <!-- generated: KIND ARGS -->
    ...replaced by what KIND makes of ARGS...
    <!-- /generated -->

ARGS are split like a shell line (quote a label with spaces). PATHs are relative to the
directory of the Markdown file that holds the block. KINDs:

    include PATH [N]            the Markdown tables of a committed file (a summary.md, an
                                operating_points.md, a .txt holding a table), verbatim; N picks
                                the N-th table (1-based), all tables otherwise
    text PATH...                the committed files verbatim, one after the other, in a fenced
                                text block
    csv PATH COL[:FMT][=HEAD]...  a table of the chosen CSV columns; FMT is a Python format spec
                                (".3f"), HEAD the column's header (default: COL)
    c-grid LABEL=PATH...        a judge's C grid (`*.c_table.csv`: c,validation_auc) transposed:
                                one row per file, AUC to 3 places (half up), each row's best
                                (the first of equals) in bold
    agreement LABEL=PATH...     the summary lines of `autojudge dtype-agreement` logs (ours and
                                llama.cpp against f32), one row per log
    sweep PATH TITLE [k=K] LABEL=METHOD...  chosen rows (at window K) of an `autojudge report`
                                sweep.csv: tokens per target call, gain vs lossless, Δ accuracy,
                                answers changed, answers kept where target-only is correct
                                (bootstrap interval, or the exact Clopper-Pearson one where every
                                answer is kept, where a bootstrap collapses to [1, 1])
    wall-time LABEL=SOURCE...   wall times, one row per SOURCE, with the first row's time over
                                each row's: SOURCE is PATH#KEY (the line `KEY SECONDS s` of a
                                time log) or a mined `records.jsonl` (the sum of its `wall_ms`)
    vs-llamacpp LABEL=PATH...   `scripts/bench-vs-llamacpp.sh` tables (`vs-llamacpp.txt`), one
                                row per file: per metric, the llama.cpp / ours ratios of its
                                models joined by " / " in the file's order (every file must list
                                the same models and metrics)
    bench-engine PATH [projections=PATH]  a `scripts/bench-engine.sh` log: one row per model and
                                dtype, min–max over its repeated runs (half up) of prefill 128
                                (s), decode step and extend-8 (ms), with the MiB streamed per
                                forward of `bench-model` projection lines ("–" where absent)
    batch B LABEL=PATH...       `bench-model --batch` outputs: B=1 and B=B decode tok/s, their
                                ratio, the verify-8 ratio and peak RSS at B=B, one row per file

Scanned: README.md and docs/**/*.md, except docs/results/gsm8k-qwen.md and
docs/results/showcase-qwen/ (a background job writes there). An unknown KIND, bad arguments, an
unclosed block or a missing raw file is an error naming the file, the line and the path (exit 2).
Standard library only.
"""
import argparse
import csv
import difflib
import json
import os
import re
import shlex
import sys
from decimal import ROUND_HALF_UP, Decimal

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
EXCLUDED_FILES = {"docs/results/gsm8k-qwen.md"}
EXCLUDED_DIRS = ("docs/results/showcase-qwen/",)

OPEN_RE = re.compile(r"^<!--\s*generated:\s*(.*?)\s*-->$")
CLOSE_RE = re.compile(r"^<!--\s*/generated\s*-->$")
FENCE_RE = re.compile(r"^(```+|~~~+)")


class GenError(Exception):
    """An error in one block: the message names the raw path or the argument at fault."""


# ---------------------------------------------------------------------------------------------
# helpers


def read_raw(base, path):
    full = os.path.normpath(os.path.join(base, path))
    if not os.path.isfile(full):
        raise GenError(f"raw file not found: {os.path.relpath(full, ROOT)}")
    with open(full, encoding="utf-8") as f:
        return f.read()


def read_csv(base, path):
    text = read_raw(base, path)
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise GenError(f"no rows in {path}")
    return rows


def tables_of(text):
    """Maximal runs of lines starting with '|', each as a list of lines."""
    tables, cur = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            cur.append(line.rstrip())
        elif cur:
            tables.append(cur)
            cur = []
    if cur:
        tables.append(cur)
    return tables


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def split_pairs(args, what):
    """LABEL=VALUE arguments, split at the last '=' (labels may hold '=', values do not)."""
    pairs = []
    for a in args:
        if "=" not in a:
            raise GenError(f"expected LABEL={what}, got {a!r}")
        label, value = a.rsplit("=", 1)
        pairs.append((label, value))
    if not pairs:
        raise GenError(f"expected at least one LABEL={what}")
    return pairs


def num(row, col, path):
    try:
        return float(row[col])
    except KeyError:
        raise GenError(f"no column {col!r} in {path}") from None
    except ValueError:
        raise GenError(f"column {col!r} of {path} is not a number: {row[col]!r}") from None


# ---------------------------------------------------------------------------------------------
# KINDs: each takes (base directory, argument list) and returns the block's Markdown


def kind_include(base, args):
    if len(args) not in (1, 2):
        raise GenError("usage: include PATH [N]")
    tables = tables_of(read_raw(base, args[0]))
    if not tables:
        raise GenError(f"no Markdown table in {args[0]}")
    if len(args) == 2:
        if not args[1].isdigit() or not 1 <= int(args[1]) <= len(tables):
            raise GenError(f"table {args[1]!r} of {args[0]}: it has {len(tables)}")
        tables = [tables[int(args[1]) - 1]]
    return "\n\n".join("\n".join(t) for t in tables)


def kind_text(base, args):
    if not args:
        raise GenError("usage: text PATH...")
    body = "\n".join(read_raw(base, p).strip("\n") for p in args)
    fence = "````" if "```" in body else "```"
    return f"{fence}text\n{body}\n{fence}"


def kind_csv(base, args):
    if len(args) < 2:
        raise GenError("usage: csv PATH COL[:FMT][=HEADER]...")
    path, specs = args[0], args[1:]
    rows = read_csv(base, path)
    cols = []
    for spec in specs:
        col, _, head = spec.partition("=")
        col, _, fmt = col.partition(":")
        if col not in rows[0]:
            raise GenError(f"no column {col!r} in {path}")
        cols.append((col, fmt, head or col))
    body = []
    for r in rows:
        cells = []
        for col, fmt, _ in cols:
            v = r[col]
            if fmt:
                try:
                    v = format(float(v), fmt)
                except ValueError:
                    raise GenError(f"column {col!r} of {path}: {v!r} does not take {fmt!r}") from None
            cells.append(v)
        body.append(cells)
    return md_table([h for _, _, h in cols], body)


def c_label(c):
    """1e-7 stays; 1e-1, 1e0, 1e1, 1e2 read 0.1, 1, 10, 100 (as the docs write the grid)."""
    v = float(c)
    return f"{v:g}" if 0.1 <= v <= 100 else c


def kind_c_grid(base, args):
    pairs = split_pairs(args, "PATH")
    grid, rows = None, []
    for label, path in pairs:
        table = read_csv(base, path)
        cs = [r.get("c") for r in table]
        if None in cs or "validation_auc" not in table[0]:
            raise GenError(f"{path} is not a C table (columns c,validation_auc)")
        if grid is None:
            grid = cs
        elif cs != grid:
            raise GenError(f"{path} has another C grid than {pairs[0][1]}")
        aucs = [num(r, "validation_auc", path) for r in table]
        # rounded half up from the decimal text of the file (0.6375 -> 0.638), as written by hand
        cells = [str(Decimal(r["validation_auc"]).quantize(Decimal("0.001"), ROUND_HALF_UP))
                 for r in table]
        best = max(range(len(aucs)), key=lambda i: (aucs[i], -i))
        cells[best] = f"**{cells[best]}**"
        rows.append([label] + cells)
    return md_table(["C"] + [c_label(c) for c in grid], rows)


AGREE_OURS = re.compile(r"^identical: (\d+)/(\d+); changed outputs first differ at tokens \[([\d, ]*)\]$")
AGREE_LLAMA = re.compile(
    r"^llama\.cpp vs reference: identical (\d+)/(\d+); changed outputs first differ at tokens \[([\d, ]*)\]$"
)


def kind_agreement(base, args):
    rows = []
    for label, path in split_pairs(args, "PATH"):
        found = {}
        for line in read_raw(base, path).splitlines():
            for key, pat in (("ours", AGREE_OURS), ("llama", AGREE_LLAMA)):
                m = pat.match(line.strip())
                if m:
                    if key in found:
                        raise GenError(f"two '{key}' summary lines in {path}")
                    found[key] = (f"{m.group(1)}/{m.group(2)}", m.group(3).strip() or "–")
        for key in ("ours", "llama"):
            if key not in found:
                raise GenError(f"no {key} summary line in {path}")
        rows.append([label, *found["ours"], *found["llama"]])
    head = ["model", "ours: identical to f32", "ours: first differing token of the others",
            "llama.cpp: identical to f32", "llama.cpp: first differing token"]
    return md_table(head, rows)


def signed2(v):
    """Two places; 0.00 unsigned, otherwise '+' or the minus sign U+2212."""
    s = f"{abs(v):.2f}"
    if s == "0.00":
        return s
    return ("+" if v > 0 else "\u2212") + s


def clopper_pearson_all(n, alpha=0.05):
    """Exact binomial interval for n successes of n: [(alpha/2)^(1/n), 1]."""
    return (alpha / 2) ** (1 / n), 1.0


def kind_sweep(base, args):
    if len(args) < 3:
        raise GenError("usage: sweep PATH TITLE [k=K] LABEL=METHOD...")
    path, title, rest = args[0], args[1], args[2:]
    k = None
    if rest and rest[0].startswith("k="):
        k, rest = rest[0][2:], rest[1:]
    table = read_csv(base, path)
    if k is not None:
        table = [r for r in table if r.get("k") == k]
    by_method = {}
    for r in table:
        if r["method"] in by_method:
            raise GenError(f"method {r['method']!r} twice in {path} (give k=K)")
        by_method[r["method"]] = r
    out, prompts, correct = [], set(), set()
    for label, method in split_pairs(rest, "METHOD"):
        r = by_method.get(method)
        if r is None:
            raise GenError(f"no method {method!r} in {path}" + (f" at k = {k}" if k else ""))
        n = int(num(r, "prompts", path))
        nc = int(num(r, "target_correct_prompts", path))
        prompts.add(n)
        correct.add(nc)
        changed = n - round(num(r, "agreement", path) * n)
        kept = round(num(r, "agreement_on_correct", path) * nc)
        lossless = r["family"] == "lossless"
        if lossless:
            delta = "0"
            keep = f"{kept}/{nc}"
        else:
            d, lo, hi = (num(r, c, path) for c in ("accuracy_diff", "accuracy_diff_lo", "accuracy_diff_hi"))
            delta = f"{signed2(d)} [{signed2(lo)}, {signed2(hi)}]"
            if kept == nc:
                # a bootstrap over prompts that all kept their answer collapses to [1, 1]
                cl, ch = clopper_pearson_all(nc)
                keep = f"{kept}/{nc} [{cl:.2f}, {ch:.2f}] (Clopper\u2013Pearson)"
            else:
                p, lo, hi = (num(r, c, path) for c in
                             ("agreement_on_correct", "agreement_on_correct_lo", "agreement_on_correct_hi"))
                keep = f"{kept}/{nc} = {p:.2f} [{lo:.2f}, {hi:.2f}] (bootstrap)"
        out.append([label, f"{num(r, 'tokens_per_target_call', path):.2f}",
                    f"{num(r, 'gain_vs_lossless', path):.2f}\u00d7", delta, str(changed), keep])
    if len(prompts) != 1 or len(correct) != 1:
        raise GenError(f"the chosen rows of {path} differ in prompts or target-only's correct count")
    head = [title, "tokens per target call", "vs lossless SD", "\u0394 accuracy vs target-only [95% CI]",
            f"answers changed, of {prompts.pop()}",
            f"answer kept where target-only is correct ({correct.pop()} prompts) [95% CI]"]
    return md_table(head, out)


def seconds(v):
    """Seconds to one place with a thousands separator: 1,448.0 s."""
    return f"{v:,.1f} s"


def kind_wall_time(base, args):
    rows = []
    for label, src in split_pairs(args, "SOURCE"):
        if "#" in src:
            path, key = src.split("#", 1)
            found = [line.split() for line in read_raw(base, path).splitlines()
                     if line.split()[:1] == [key]]
            if len(found) != 1 or len(found[0]) != 3 or found[0][2] != "s":
                raise GenError(f"no single line '{key} SECONDS s' in {path}")
            try:
                secs = float(found[0][1])
            except ValueError:
                raise GenError(f"line {key!r} of {path} has no seconds: {found[0][1]!r}") from None
            how = f"`/usr/bin/time`, line `{key}` of `{os.path.basename(path)}`"
        elif src.endswith(".jsonl"):
            try:
                recs = [json.loads(line) for line in read_raw(base, src).splitlines() if line.strip()]
            except ValueError as e:
                raise GenError(f"{src} is not JSON lines: {e}") from None
            if not recs or any("wall_ms" not in r for r in recs):
                raise GenError(f"{src}: every record needs a wall_ms")
            secs = sum(r["wall_ms"] for r in recs) / 1000
            how = f"sum of the {len(recs)} records' `wall_ms` in `{os.path.basename(src)}`"
        else:
            raise GenError(f"SOURCE is PATH#KEY (a time log) or a .jsonl of records, got {src!r}")
        rows.append((label, secs, how))
    first = rows[0]
    head = ["run", "wall time", "measured as", f"vs {first[0]}"]
    return md_table(head, [[label, seconds(secs), how, f"{first[1] / secs:.2f}\u00d7"]
                           for label, secs, how in rows])


VS_LLAMA_ROW = re.compile(r"^\|\s*(\S+)\s*\|\s*([^|]+?)\s*\|\s*[\d.]+\s*\|\s*[\d.]+\s*\|\s*([\d.]+\u00d7)\s*\|$")


def kind_vs_llamacpp(base, args):
    models, metrics, rows = None, None, []
    for label, path in split_pairs(args, "PATH"):
        ratios = {}
        order_m, order_k = [], []
        for line in read_raw(base, path).splitlines():
            m = VS_LLAMA_ROW.match(line.strip())
            if not m or m.group(1) == "model":
                continue
            model, metric, ratio = m.groups()
            if model not in order_m:
                order_m.append(model)
            if metric not in order_k:
                order_k.append(metric)
            ratios[(model, metric)] = ratio
        if not ratios:
            raise GenError(f"no 'model | metric | ... | ratio' rows in {path}")
        if models is None:
            models, metrics = order_m, order_k
        elif (order_m, order_k) != (models, metrics):
            raise GenError(f"{path} has other models or metrics than {args[0].rsplit('=', 1)[1]}")
        cells = []
        for k in metrics:
            if any((mo, k) not in ratios for mo in models):
                raise GenError(f"{path} lacks {k!r} for a model")
            cells.append(" / ".join(ratios[(mo, k)] for mo in models))
        rows.append([label] + cells)
    return md_table(["run"] + metrics, rows)


def half_up(text, places):
    q = Decimal(1).scaleb(-places)
    return Decimal(text).quantize(q, ROUND_HALF_UP)


def span(values, places):
    """min–max of decimal strings, rounded half up; one value when they round alike."""
    lo = half_up(min(values, key=Decimal), places)
    hi = half_up(max(values, key=Decimal), places)
    return str(lo) if lo == hi else f"{lo}\u2013{hi}"


BENCH_HEAD = re.compile(r"^== .*--model (\S+).*--dtype (\S+)")
PROJ_HEAD = re.compile(r"^\$ .*--model (\S+).*--dtype (\S+)")
PROJ_LINE = re.compile(r"= ([\d.]+) MiB streamed per forward")


def kind_bench_engine(base, args):
    if not args or len(args) > 2 or (len(args) == 2 and not args[1].startswith("projections=")):
        raise GenError("usage: bench-engine PATH [projections=PATH]")
    runs, order, cur = {}, [], None
    for line in read_raw(base, args[0]).splitlines():
        m = BENCH_HEAD.match(line)
        if m:
            cur = (os.path.basename(m.group(1)), m.group(2))
            if cur not in runs:
                runs[cur] = {"prefill": [], "decode": [], "extend-8": []}
                order.append(cur)
            continue
        if cur is None:
            continue
        p = line.split()
        if line.startswith("prefill 128 tokens:"):
            runs[cur]["prefill"].append(p[3].rstrip("s"))
        elif line.startswith("decode:"):
            runs[cur]["decode"].append(p[1])
        elif len(p) == 4 and p[0] == "8":
            runs[cur]["extend-8"].append(p[1])
    if not order:
        raise GenError(f"no '== ... --model M ... --dtype D' runs in {args[0]}")
    mib = {}
    if len(args) == 2:
        head = None
        for line in read_raw(base, args[1][len("projections="):]).splitlines():
            m = PROJ_HEAD.match(line)
            if m:
                head = (os.path.basename(m.group(1)), m.group(2))
                continue
            m = PROJ_LINE.search(line)
            if m and head:
                mib[head] = m.group(1)
    models = list(dict.fromkeys(mo for mo, _ in order))
    rows = []
    for mo in models:
        for key in (k for k in order if k[0] == mo):
            r = runs[key]
            for what, vals in r.items():
                if not vals:
                    raise GenError(f"{args[0]}: no {what} figure for {key[0]} --dtype {key[1]}")
            rows.append([mo, key[1], mib.get(key, "\u2013"), span(r["prefill"], 2) + " s",
                         span(r["decode"], 1) + " ms", span(r["extend-8"], 1) + " ms",
                         str(len(r["decode"]))])
    head = ["model", "dtype", "MiB streamed per forward", "prefill 128", "decode step", "extend-8",
            "runs"]
    return md_table(head, rows)


BATCH_ROW = re.compile(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s*$")


def kind_batch(base, args):
    if len(args) < 2 or not args[0].isdigit():
        raise GenError("usage: batch B LABEL=PATH...")
    b, rows = args[0], []
    for label, path in split_pairs(args[1:], "PATH"):
        table = {}
        for line in read_raw(base, path).splitlines():
            m = BATCH_ROW.match(line)
            if m:
                table[m.group(1)] = m.groups()
        if "1" not in table or b not in table:
            raise GenError(f"{path} has no rows for B = 1 and B = {b}")
        one, n = table["1"], table[b]
        rows.append([label, one[2], n[2], f"{n[3]}\u00d7", f"{n[6]}\u00d7", f"{n[7]} MiB"])
    head = ["model", "B=1 decode tok/s", f"B={b} decode tok/s", f"B={b} / B=1",
            f"verify-8, B={b} / B=1", f"peak RSS at B={b}"]
    return md_table(head, rows)


KINDS = {
    "include": kind_include,
    "text": kind_text,
    "csv": kind_csv,
    "c-grid": kind_c_grid,
    "agreement": kind_agreement,
    "sweep": kind_sweep,
    "wall-time": kind_wall_time,
    "vs-llamacpp": kind_vs_llamacpp,
    "bench-engine": kind_bench_engine,
    "batch": kind_batch,
}


# ---------------------------------------------------------------------------------------------
# documents


def docs():
    out = []
    if os.path.isfile(os.path.join(ROOT, "README.md")):
        out.append("README.md")
    for d, subdirs, files in os.walk(os.path.join(ROOT, "docs")):
        subdirs.sort()
        rel_dir = os.path.relpath(d, ROOT).replace(os.sep, "/") + "/"
        if any(rel_dir.startswith(x) for x in EXCLUDED_DIRS):
            subdirs[:] = []
            continue
        for f in sorted(files):
            rel = rel_dir + f
            if f.endswith(".md") and rel not in EXCLUDED_FILES:
                out.append(rel)
    return out


def regenerate(rel, text, errors):
    """The text with every generated block rebuilt; problems are appended to errors."""
    base = os.path.dirname(os.path.join(ROOT, rel))
    lines = text.split("\n")
    out, i, fence = [], 0, None
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence) and stripped.strip(fence[0]) == "":
                fence = None
            out.append(line)
            i += 1
            continue
        m = FENCE_RE.match(stripped)
        if m:
            fence = m.group(1)
            out.append(line)
            i += 1
            continue
        if CLOSE_RE.match(stripped):
            errors.append(f"{rel}:{i + 1}: '<!-- /generated -->' without an opening marker")
            out.append(line)
            i += 1
            continue
        m = OPEN_RE.match(stripped)
        if not m:
            out.append(line)
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and not CLOSE_RE.match(lines[j].strip()):
            if OPEN_RE.match(lines[j].strip()):
                break
            j += 1
        if j == len(lines) or not CLOSE_RE.match(lines[j].strip()):
            errors.append(f"{rel}:{start + 1}: generated block not closed by '<!-- /generated -->'")
            out.extend(lines[i:])
            break
        try:
            words = shlex.split(m.group(1))
        except ValueError as e:
            words = None
            errors.append(f"{rel}:{start + 1}: cannot split the arguments: {e}")
        if words is not None:
            if not words:
                errors.append(f"{rel}:{start + 1}: no KIND in the marker")
            elif words[0] not in KINDS:
                errors.append(f"{rel}:{start + 1}: unknown KIND {words[0]!r} (known: {', '.join(KINDS)})")
            else:
                try:
                    body = KINDS[words[0]](base, words[1:])
                    out += [line, "", body, "", lines[j]]
                    i = j + 1
                    continue
                except GenError as e:
                    errors.append(f"{rel}:{start + 1}: {words[0]}: {e}")
        out.extend(lines[i:j + 1])
        i = j + 1
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 with a diff when a generated block is stale")
    a = ap.parse_args()
    errors, stale, blocks = [], [], 0
    for rel in docs():
        path = os.path.join(ROOT, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        blocks += sum(1 for line in text.split("\n") if OPEN_RE.match(line.strip()))
        new = regenerate(rel, text, errors)
        if new != text:
            stale.append((rel, text, new))
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if a.check:
        for rel, old, new in stale:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), f"a/{rel}", f"b/{rel}"))
        if stale:
            print(f"results_docs: {len(stale)} file(s) out of date with their raw files; "
                  "run scripts/results_docs.py", file=sys.stderr)
            sys.exit(1)
        print(f"results_docs: {blocks} generated block(s) up to date")
        return
    for rel, _, new in stale:
        with open(os.path.join(ROOT, rel), "w", encoding="utf-8") as f:
            f.write(new)
        print(f"rewrote {rel}")
    print(f"results_docs: {blocks} generated block(s), {len(stale)} file(s) rewritten")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # e.g. `--check | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
