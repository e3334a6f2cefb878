#!/usr/bin/env bash
# The main job: AutoJudge on GSM8K with the embedded default model (SmolLM2-135M-Instruct and
# its default self-speculative draft, exit after 24 of 30 layers). Fetches the model once,
# then runs examples/gsm8k_eval: mine important tokens on GSM8K train, train the DT, DD-DT and prev+own
# judges, evaluate every method on GSM8K test; prints the table and the plot paths.
# Rerunning resumes (finished prompts are skipped).
#
#   scripts/main.sh [OUT_DIR]            (default results/smollm2-gsm8k)
# Methods: target-only, lossless SD, top-4, target-prob 0.3, and the DT, DD-DT and prev+own judges at
# three thresholds each (the full sweep: examples/gsm8k_eval without the method flags).
# Env: MINE_PROMPTS (default 30), EVAL_PROMPTS (default 10), PARALLEL (prompts at once, default
#      1; results identical, docs/results/parallel.md), AUTOJUDGE_MODELS (model cache),
#      AUTOJUDGE_GSM8K_TRAIN / AUTOJUDGE_GSM8K_TEST (GSM8K JSONL files).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/smollm2-gsm8k}
DEST=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
TRAIN=${AUTOJUDGE_GSM8K_TRAIN:-data/gsm8k/train.jsonl}
TEST=${AUTOJUDGE_GSM8K_TEST:-data/gsm8k/test.jsonl}
for f in "$TRAIN" "$TEST"; do
  [[ -f $f ]] || { echo "GSM8K file $f not found; set AUTOJUDGE_GSM8K_TRAIN / AUTOJUDGE_GSM8K_TEST" >&2; exit 1; }
done
scripts/fetch-models.sh smollm
# Reuse a persistent build directory when there is one (as scripts/test.sh does): a cold burn
# release build takes 12-30 min on 2 cores.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/autojudge-target}
cargo run --release -q --example gsm8k_eval -- \
  --model "$DEST/SmolLM2-135M-Instruct.Q4_1.gguf" \
  --train-data "$TRAIN" --test-data "$TEST" \
  --mine-prompts "${MINE_PROMPTS:-30}" --eval-prompts "${EVAL_PROMPTS:-10}" \
  --topk 4 --prob 0.3 --judge-quantiles 0.5,0.9 --val-fraction 0.2 \
  --max-new-tokens 64 --parallel "${PARALLEL:-1}" --out "$OUT"
