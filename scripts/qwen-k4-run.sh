#!/usr/bin/env bash
# The 50-prompt Qwen run behind docs/results/{gsm8k-qwen-k4,humaneval,mining}.md (the showcase at
# scale is scripts/showcase-qwen.sh): AutoJudge on GSM8K with Qwen2.5-Coder-1.5B-Instruct (target) and
# Qwen2.5-Coder-0.5B-Instruct (draft), Q4_K_M GGUF dequantized to f16 projections.
# Fetches both models once, then mines GSM8K train prompts (two one-thread shards in parallel,
# merged), trains the DT and DD-DT judges, and evaluates target-only, lossless SD and the
# DD-DT judge (EVAL_JUDGES="dt dd-dt" adds DT) at its recall-0.9 threshold on GSM8K test
# (two one-thread halves in parallel, then one summary).
# Every step resumes: rerun the script after an interruption.
#
#   scripts/qwen-k4-run.sh [OUT_DIR]         (default results/qwen-gsm8k, or results/qwen-humaneval)
# TASK=humaneval runs the same on HumanEval with the unit-test oracle (pass@1): mines problems
# 0..MINE_PROMPTS-1 and evaluates from problem TEST_SKIP (default 100) on.
# Env: MINE_PROMPTS (50), EVAL_PROMPTS (50, even), MAX_NEW_TOKENS (320), K (4), EVAL_JUDGES,
#      LABELS (reference | lenient; the committed docs/results tables used lenient),
#      AUTOJUDGE_MODELS, AUTOJUDGE_GSM8K_TRAIN / AUTOJUDGE_GSM8K_TEST, AUTOJUDGE_BIN (a built
#      `autojudge`; default: cargo build --release).
# About 3 h on a 2-core CPU machine (docs/results/gsm8k-qwen-k4.md has the measured run).
set -euo pipefail
cd "$(dirname "$0")/.."
TASK=${TASK:-gsm8k}
OUT=${1:-results/qwen-$TASK}
DEST=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
if [[ $TASK == humaneval ]]; then
  TRAIN=${AUTOJUDGE_HUMANEVAL:-data/humaneval/HumanEval.jsonl.gz}
  TEST=$TRAIN
  TEST_SKIP=${TEST_SKIP:-100}
else
  TRAIN=${AUTOJUDGE_GSM8K_TRAIN:-data/gsm8k/train.jsonl}
  TEST=${AUTOJUDGE_GSM8K_TEST:-data/gsm8k/test.jsonl}
  TEST_SKIP=${TEST_SKIP:-0}
fi
MINE=${MINE_PROMPTS:-50}
EVAL=${EVAL_PROMPTS:-50}
MAX=${MAX_NEW_TOKENS:-320}
K=${K:-4}
LABELS=${LABELS:-reference}
scripts/fetch-models.sh qwen
if [[ -z ${AUTOJUDGE_BIN:-} ]]; then
  cargo build --release -q -p autojudge-cli
  AUTOJUDGE_BIN=${CARGO_TARGET_DIR:-target}/release/autojudge
fi
AJ=$AUTOJUDGE_BIN
PAIR=(--model "$DEST/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" --dtype f16 --max-context 4096
      --draft "$DEST/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
mkdir -p "$OUT"
# 1. Mining: two one-thread shards (on a cluster: one job-array task per shard).
for i in 0 1; do
  RAYON_NUM_THREADS=1 "$AJ" mine "${PAIR[@]}" --task "$TASK" --labels "$LABELS" --draft-proposals 8 --data "$TRAIN" --prompts "$MINE" \
    --max-new-tokens "$MAX" --shard "$i/2" --out "$OUT/mined-s$i" &
done
wait
[[ -d $OUT/mined ]] || "$AJ" merge --out "$OUT/mined" "$OUT/mined-s0" "$OUT/mined-s1"
# 2. Judges.
for f in dt dd-dt; do
  [[ -f $OUT/judges/$f.safetensors ]] || "$AJ" train --data "$OUT/mined" --features "$f" --out "$OUT/judges/$f.safetensors"
done
# 3. Evaluation: two halves in parallel (each runs every method on its prompts), then the summary.
METHODS=(--judge-quantiles none --topk none --prob none --k "$K" --max-new-tokens "$MAX" --labels "$LABELS")
for f in ${EVAL_JUDGES:-dd-dt}; do METHODS+=(--judge "$OUT/judges/$f.safetensors"); done
HALF=$((EVAL / 2))
for h in 0 1; do
  RAYON_NUM_THREADS=1 "$AJ" eval "${PAIR[@]}" --task "$TASK" --data "$TEST" --skip $((TEST_SKIP + h * HALF)) --prompts "$HALF" \
    "${METHODS[@]}" --out "$OUT/eval-h$h" > "$OUT/eval-h$h.log" 2>&1 &
done
wait
"$AJ" report --out "$OUT/eval" "$OUT/eval-h0" "$OUT/eval-h1"
