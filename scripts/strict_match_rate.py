#!/usr/bin/env python3
"""How often lm-eval's `gsm8k_cot_llama` strict match finds an answer in mined responses.

Decodes the greedy (and final) responses of mined directories with the GGUF file's own
byte-level BPE vocabulary, independently of autojudge-rs, and applies lm-eval's strict-match
regex (case-sensitive "The final answer is", last match, `,` `$` and one trailing `.` removed)
next to a `\\boxed{}` reader. Prints counts per reader and a few responses strict match misses.

    pip install gguf
    scripts/strict_match_rate.py MODEL.gguf MINED_DIR [MINED_DIR ...]
"""
import json
import re
import sys

import gguf

STRICT = re.compile(r"The final answer is ((-?[$0-9.,]{2,})|(-?[0-9]+))")
BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def byte_decoder():
    """GPT-2's byte-to-unicode table, inverted."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def vocabulary(path):
    field = gguf.GGUFReader(path).fields["tokenizer.ggml.tokens"]
    return [bytes(field.parts[i]).decode("utf-8", "replace") for i in field.data]


def strict(text):
    found = STRICT.findall(text)
    if not found:
        return None
    m = found[-1]
    ans = (m[0] or m[1] or m[2]).replace(",", "").replace("$", "")
    return ans[:-1] if ans.endswith(".") else ans


def boxed(text):
    found = BOXED.findall(text)
    return found[-1].strip() if found else None


def decoder(path):
    """A function from token ids to text, from the GGUF file's byte-level BPE vocabulary."""
    vocab = vocabulary(path)
    dec = byte_decoder()

    def decode(ids):
        out = bytearray()
        for t in ids:
            for ch in vocab[t]:
                out.extend([dec[ch]] if ch in dec else ch.encode())
        return out.decode("utf-8", "replace")

    return decode


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    decode = decoder(sys.argv[1])

    counts = {"responses": 0, "strict": 0, "boxed": 0, "either": 0}
    misses = []
    for d in sys.argv[2:]:
        with open(f"{d}/records.jsonl") as f:
            for line in f:
                r = json.loads(line)
                if r.get("status") != "mined":
                    continue
                for key in ("response", "final_response"):
                    text = decode(r[key])
                    s, b = strict(text), boxed(text)
                    counts["responses"] += 1
                    counts["strict"] += s is not None
                    counts["boxed"] += b is not None
                    counts["either"] += s is not None or b is not None
                    if s is None and len(misses) < 3:
                        misses.append(text[-120:])
    n = counts["responses"]
    print(f"greedy and final responses: {n}")
    for k in ("strict", "boxed", "either"):
        print(f"  {k:>6}: {counts[k]} ({100 * counts[k] / max(n, 1):.1f}%)")
    for m in misses:
        print("  strict match finds nothing in: ..." + m.replace("\n", "\\n"))


if __name__ == "__main__":
    main()
