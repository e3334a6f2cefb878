#!/usr/bin/env bash
# Sequential against batched-parallel mining and evaluation on the Qwen2.5-Coder 1.5B/0.5B
# pair, same prompts and settings, one after the other on the whole machine; prints the wall
# times and checks that labels and generations are identical. Resumable: a finished step is
# skipped (its wall time is kept in $OUT/times.tsv).
#
#   scripts/bench-parallel-qwen.sh [OUT]     (default results/parallel-qwen)
#
# Env: PROMPTS (8), PARALLEL (8), MAX (256 new tokens), K (4), AUTOJUDGE_BIN.
# Measured run and reading: docs/results/parallel.md.
set -euo pipefail
OUT=${1:-results/parallel-qwen}
PROMPTS=${PROMPTS:-8}
PARALLEL=${PARALLEL:-8}
MAX=${MAX:-256}
K=${K:-4}
DEST=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
if [[ -z ${AUTOJUDGE_BIN:-} ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/autojudge-target}
  cargo build --release -q -p autojudge-cli
  AUTOJUDGE_BIN=$CARGO_TARGET_DIR/release/autojudge
fi
AJ=$AUTOJUDGE_BIN
mkdir -p "$OUT"
PAIR=(--model "$DEST/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" --dtype f16 --max-context 4096
      --draft "$DEST/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
MINE=(--data data/gsm8k/train.jsonl --prompts "$PROMPTS" --max-new-tokens "$MAX" --draft-proposals 8)
EVAL=(--data data/gsm8k/test.jsonl --prompts "$PROMPTS" --max-new-tokens "$MAX" --k "$K"
      --topk none --prob none --judge-quantiles none --bootstrap 200)

# step NAME CMD...: runs CMD unless NAME is in times.tsv, then records its wall seconds.
step() {
  local name=$1; shift
  if grep -q "^$name	" "$OUT/times.tsv" 2>/dev/null; then echo "done: $name"; return; fi
  echo "== $name"
  local t0; t0=$(date +%s.%N)
  "$@"
  printf '%s\t%.1f\n' "$name" "$(echo "$(date +%s.%N) - $t0" | bc)" >> "$OUT/times.tsv"
}

step mine-parallel-1 "$AJ" mine "${PAIR[@]}" "${MINE[@]}" --parallel 1 --out "$OUT/mined-p1"
step mine-parallel-$PARALLEL "$AJ" mine "${PAIR[@]}" "${MINE[@]}" --parallel "$PARALLEL" --out "$OUT/mined-p$PARALLEL"
"$AJ" mine-stats "$OUT/mined-p1" "$OUT/mined-p$PARALLEL" | tee "$OUT/mine-stats.md"
# One judge (its quality does not matter here); a refused one leaves the judge out.
[[ -f $OUT/judge.safetensors ]] || "$AJ" train --data "$OUT/mined-p1" --features dd-dt \
  --val-fraction 0.25 --out "$OUT/judge.safetensors" || echo "no judge: evaluating without one"
[[ -f $OUT/judge.safetensors ]] && EVAL+=(--judge "$OUT/judge.safetensors")
step eval-parallel-1 "$AJ" eval "${PAIR[@]}" "${EVAL[@]}" --parallel 1 --out "$OUT/eval-p1"
step eval-parallel-$PARALLEL "$AJ" eval "${PAIR[@]}" "${EVAL[@]}" --parallel "$PARALLEL" --out "$OUT/eval-p$PARALLEL"
# Generations identical: the same lines without timings.
strip() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l); [r["stats"].pop(k) for k in ("draft_time","target_time","policy_time","wall_time")]; print(json.dumps(r,sort_keys=True))' "$1"; }
if diff <(strip "$OUT/eval-p1/results.jsonl") <(strip "$OUT/eval-p$PARALLEL/results.jsonl") >/dev/null; then
  echo "evaluation: identical result lines ($(wc -l < "$OUT/eval-p1/results.jsonl"))"
else
  echo "evaluation: result lines DIFFER"; exit 1
fi
cat "$OUT/times.tsv"
