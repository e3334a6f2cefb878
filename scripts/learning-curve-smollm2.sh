#!/usr/bin/env bash
# Learning curves of the judge's feature sets on SmolLM2-135M-Instruct (exit:24 self-draft),
# GSM8K train, reference labels (`--labels reference`: the reference's prompt, lm-eval strict
# match, stop after a tested draft EOS) with a response cap of MAX_NEW_TOKENS (the reference's
# 2,048 costs about 40 core-hours for 300 prompts here; docs/mining.md).
# Mines PROMPTS prompts in two one-thread shards (each resumes when rerun), then measures
# validation ROC-AUC per feature set and training size on one fixed validation split.
#
#   scripts/learning-curve-smollm2.sh [OUT_DIR]     (default results/learning-curve-smollm2)
# Env: PROMPTS (300), MAX_NEW_TOKENS (256), SIZES (25,50,100,200,270), VAL_FRACTION (0.1),
#      MINE_ONLY=1 (stop after mining), AUTOJUDGE_MODELS, AUTOJUDGE_BIN (a built `autojudge`).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/learning-curve-smollm2}
DEST=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
PROMPTS=${PROMPTS:-300}
MAX=${MAX_NEW_TOKENS:-256}
SIZES=${SIZES:-25,50,100,200,270}
VAL=${VAL_FRACTION:-0.1}
scripts/fetch-models.sh smollm
if [[ -z ${AUTOJUDGE_BIN:-} ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/autojudge-target}
  cargo build --release -q -p autojudge-cli
  AUTOJUDGE_BIN=$CARGO_TARGET_DIR/release/autojudge
fi
AJ=$AUTOJUDGE_BIN
M=$DEST/SmolLM2-135M-Instruct.Q4_1.gguf
for i in 0 1; do
  RAYON_NUM_THREADS=1 "$AJ" mine --model "$M" --data data/gsm8k/train.jsonl --prompts "$PROMPTS" \
    --max-new-tokens "$MAX" --shard "$i/2" --out "$OUT/mined-s$i" &
done
wait
[[ -d $OUT/mined ]] || "$AJ" merge --out "$OUT/mined" "$OUT/mined-s0" "$OUT/mined-s1"
"$AJ" mine-stats "$OUT/mined" | tee "$OUT/mine-stats.md"
[[ ${MINE_ONLY:-0} == 1 ]] && exit 0
"$AJ" learning-curve --data "$OUT/mined" --sizes "$SIZES" --val-fraction "$VAL" --out "$OUT"
