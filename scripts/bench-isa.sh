#!/usr/bin/env bash
# What `--dtype auto` should pick on each instruction set: `bench-model` under every `--isa`
# this CPU runs, crossed with every host dtype (quant, f16, f32), on the same GGUF files, in
# alternating rounds. Prints a markdown table of medians (decode step, extend-8, PREFILL-token
# prefill) with each dtype's decode step against the fastest dtype of its set.
# The measurements behind `--dtype auto`'s choice in docs/results/quant.md ("Every x86 CPU")
# come from this script (docs/engine.md, "Instruction sets", states the rule).
#
#   scripts/bench-isa.sh [ROUNDS]          (default 3)
# Env: AUTOJUDGE_MODELS, AUTOJUDGE_BIN, THREADS (2), MODELS (file names), ISAS (default: every
#      set `autojudge inspect` says this CPU runs), DTYPES ("quant f16 f32"), RAW_DIR (keep the
#      raw outputs there), PREFILL (prompt tokens, 128).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
M=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
THREADS=${THREADS:-2}
MODELS=${MODELS:-SmolLM2-135M-Instruct.Q4_1.gguf qwen2.5-coder-0.5b-instruct-q4_k_m.gguf qwen2.5-coder-1.5b-instruct-q4_k_m.gguf}
DTYPES=${DTYPES:-quant f16 f32}
PREFILL=${PREFILL:-128}
if [[ -z ${AUTOJUDGE_BIN:-} ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/autojudge-target}
  cargo build --release -q -p autojudge-cli
  AUTOJUDGE_BIN=$CARGO_TARGET_DIR/release/autojudge
fi
first=$(echo $MODELS | cut -d' ' -f1)
if [[ -z ${ISAS:-} ]]; then
  ISAS=$("$AUTOJUDGE_BIN" inspect "$M/$first" | sed -n 's/.*(runs: \(.*\)); --dtype.*/\1/p' | tr -d ',')
fi
if [[ -n ${RAW_DIR:-} ]]; then
  OUT=$RAW_DIR
  mkdir -p "$OUT"
else
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi
echo "autojudge $(git rev-parse --short HEAD), $THREADS threads, sets: $ISAS; $(nproc) cores: $(lscpu | sed -n 's/^Model name: *//p')"
for r in $(seq "$ROUNDS"); do
  for model in $MODELS; do
    f=$M/$model
    [[ -f $f ]] || { echo "missing $f (scripts/fetch-models.sh)" >&2; exit 1; }
    for isa in $ISAS; do
      for dtype in $DTYPES; do
        RAYON_NUM_THREADS=$THREADS "$AUTOJUDGE_BIN" bench-model --model "$f" --dtype "$dtype" \
          --isa "$isa" --max-context 1024 --prefill "$PREFILL" --decode 16 --ks 8 --reps 3 \
          > "$OUT/$model.$isa.$dtype.$r" 2>&1
      done
    done
    echo "  round $r/$ROUNDS: $model done" >&2
  done
done
python3 - "$OUT" "$ISAS" "$DTYPES" "$PREFILL" $MODELS <<'PY'
import glob, re, statistics, sys
out, isas, dtypes, prefill, models = (sys.argv[1], sys.argv[2].split(), sys.argv[3].split(),
                                      sys.argv[4], sys.argv[5:])
def parse(path):
    t = open(path).read()
    prefill = float(re.search(r"prefill \d+ tokens: ([\d.]+)s", t).group(1)) * 1e3
    decode = float(re.search(r"decode: ([\d.]+) ms/token", t).group(1))
    ext8 = float(re.search(r"^\s+8\s+([\d.]+)", t, re.M).group(1))
    return decode, ext8, prefill
print()
print(f"| model | --isa | --dtype | decode step ms | extend-8 ms | prefill {prefill} ms | decode vs the set's fastest |")
print("| --- | --- | --- | --- | --- | --- | --- |")
rounds = 0
for m in models:
    for isa in isas:
        med = {}
        for d in dtypes:
            runs = [parse(p) for p in sorted(glob.glob(f"{out}/{m}.{isa}.{d}.*"))]
            rounds = len(runs)
            med[d] = [statistics.median(r[i] for r in runs) for i in range(3)]
        best = min(v[0] for v in med.values())
        for d in dtypes:
            dec, ext, pre = med[d]
            print(f"| {m} | {isa} | {d} | {dec:.1f} | {ext:.1f} | {pre:.0f} | {dec / best:.2f}× |")
print(f"\nmedians of {rounds} alternating rounds")
PY
