#!/usr/bin/env bash
# The main job on the embedded default model: fetch SmolLM2-135M (once), then compare
# target-only and speculative decoding on GSM8K test prompts (greedy, outputs checked
# identical). The AutoJudge pipeline (mine → judge → evaluate) replaces this as it lands.
#
#   scripts/main.sh [PROMPTS]        (default 10)
# Env: AUTOJUDGE_MODELS (model cache), AUTOJUDGE_GSM8K_TEST (GSM8K test.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
PROMPTS=${1:-10}
DEST=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
DATA=${AUTOJUDGE_GSM8K_TEST:-../shared/data/gsm8k/test.jsonl}
[[ -f $DATA ]] || { echo "GSM8K test set not found at $DATA; set AUTOJUDGE_GSM8K_TEST" >&2; exit 1; }
scripts/fetch-models.sh smollm
cargo run --release -q -p autojudge-cli -- bench-decode \
  --model "$DEST/SmolLM2-135M-Instruct.Q4_1.gguf" \
  --draft ngram --ks 4,8 --prompts "$PROMPTS" --max-new-tokens 256 --data "$DATA"
