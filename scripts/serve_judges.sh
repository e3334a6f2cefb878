#!/usr/bin/env bash
# The judges behind the AutoJudge rows of docs/results/serve.md, one per pair the server
# benchmark runs (scripts/bench_serve.py):
#
#   scripts/serve_judges.sh [OUT]     (default OUT: docs/results/serve/judges)
#
#   OUT/qwen-dd-dt+logits-n<N>.safetensors   Qwen2.5-Coder 1.5B target, 0.5B draft: trained on
#       the campaign's mined Qwen records as they stand (docs/results/showcase-qwen/mined; N
#       counts the prompts). The records are copied first (whole lines only, so a block being
#       appended to by the running campaign is never touched), their features recomputed
#       (`autojudge refeature`), then `autojudge train`.
#   OUT/smollm2-dt-n<N>.safetensors          SmolLM2-135M, self-draft exit:24: N GSM8K train
#       prompts mined here at 64 new tokens (the serve benchmark's length), then trained.
#
# A judge file that exists is kept; the scratch work goes to WORK (default
# ~/.cache/autojudge/serve-judges) and resumes. The training logs land next to the judges.
# Env: SMOLLM_PROMPTS (40), AUTOJUDGE_MODELS, AUTOJUDGE_BIN, WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs/results/serve/judges}
WORK=${WORK:-$HOME/.cache/autojudge/serve-judges}
DEST=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
SMOLLM_PROMPTS=${SMOLLM_PROMPTS:-40}
if [[ -z ${AUTOJUDGE_BIN:-} ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/autojudge-target}
  cargo build --release -q -p autojudge-cli
  AUTOJUDGE_BIN=$CARGO_TARGET_DIR/release/autojudge
fi
AJ=$AUTOJUDGE_BIN
mkdir -p "$OUT" "$WORK"

# --- Qwen: the campaign's records so far.
scripts/fetch-models.sh qwen
QWEN="--model $DEST/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --max-context 4096 \
  --draft $DEST/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
GSM8K="--task gsm8k --labels reference --gsm8k-answer lenient --gsm8k-fallback boxed"
dirs=()
for src in docs/results/showcase-qwen/mined/b*; do
  [[ -f $src/records.jsonl ]] || continue
  dst=$WORK/qwen/$(basename "$src")
  if [[ ! -f $dst/records.jsonl ]]; then
    mkdir -p "$dst"
    cp "$src/manifest.json" "$dst/"
    # Whole lines only: a line being appended has no newline yet.
    head -n "$(wc -l < "$src/records.jsonl")" "$src/records.jsonl" > "$dst/records.jsonl"
  fi
  dirs+=("$dst")
done
n=$(cat "${dirs[@]/%//records.jsonl}" | wc -l)
judge=$OUT/qwen-dd-dt+logits-n$n.safetensors
if [[ ! -f $judge ]]; then
  # shellcheck disable=SC2086
  "$AJ" refeature $QWEN $GSM8K --data data/gsm8k/train.jsonl "${dirs[@]}"
  # shellcheck disable=SC2046
  # Into a scratch directory first, then moved with what `train` writes beside the judge: an
  # interrupted training leaves no judge file that a rerun would take for finished.
  rm -rf "$WORK/partial" && mkdir -p "$WORK/partial"
  "$AJ" train $(printf -- '--data %s ' "${dirs[@]}") --features dd-dt+logits \
    --out "$WORK/partial/$(basename "$judge")" | tee "$WORK/partial/$(basename "$judge" .safetensors).train.log"
  mv "$WORK/partial"/* "$OUT/"
fi
echo "qwen judge: $judge"

# --- SmolLM2: mined here.
scripts/fetch-models.sh smollm
M=$DEST/SmolLM2-135M-Instruct.Q4_1.gguf
judge=$OUT/smollm2-dt-n$SMOLLM_PROMPTS.safetensors
if [[ ! -f $judge ]]; then
  "$AJ" mine --model "$M" --draft self:exit:24 --data data/gsm8k/train.jsonl \
    --prompts "$SMOLLM_PROMPTS" --max-new-tokens 64 --out "$WORK/smollm2"
  rm -rf "$WORK/partial" && mkdir -p "$WORK/partial"
  "$AJ" train --data "$WORK/smollm2" --features dt --out "$WORK/partial/$(basename "$judge")" \
    | tee "$WORK/partial/$(basename "$judge" .safetensors).train.log"
  mv "$WORK/partial"/* "$OUT/"
fi
echo "smollm2 judge: $judge"
