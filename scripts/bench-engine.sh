#!/usr/bin/env bash
# Engine benchmark behind docs/engine.md: `bench-model` (prefill, decode, extend-k cost) on
# SmolLM2-135M (quant three times, f32 and f16 twice) and the Qwen2.5-Coder pair (quant, f16),
# with this checkout's release build; with BEFORE_BIN, that build's SmolLM2 and Qwen rows
# (same dtypes) interleaved, so both see the same machine load. Run it on an otherwise idle
# machine. Comparisons with llama.cpp: scripts/bench-vs-llamacpp.sh.
#
#   scripts/bench-engine.sh [BEFORE_BIN]
# Env: AUTOJUDGE_MODELS (model cache), AUTOJUDGE_BIN (a built `autojudge`).
set -euo pipefail
cd "$(dirname "$0")/.."
M=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
if [[ -z ${AUTOJUDGE_BIN:-} ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/autojudge-target}
  cargo build --release -q -p autojudge-cli
  AUTOJUDGE_BIN=$CARGO_TARGET_DIR/release/autojudge
fi
NEW=$AUTOJUDGE_BIN
OLD=${1:-}
S=$M/SmolLM2-135M-Instruct.Q4_1.gguf
Q=$M/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
D=$M/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
run() { echo "== $*"; "$@" 2>&1 | grep -E "projections|prefill|decode|^ +[0-9]|RSS"; }
for _ in 1 2 3; do
  run "$NEW" bench-model --model "$S" --dtype quant --reps 15 --decode 64
  [[ -z $OLD ]] || run "$OLD" bench-model --model "$S" --dtype quant --reps 15 --decode 64
done
for d in f32 f16; do
  for _ in 1 2; do run "$NEW" bench-model --model "$S" --dtype $d --reps 15 --decode 64; done
done
if [[ -f $Q && -f $D ]]; then
  QW=(--max-context 4096 --reps 5 --decode 16)
  for d in quant f16; do
    run "$NEW" bench-model --model "$Q" --dtype $d "${QW[@]}"
    [[ -z $OLD ]] || run "$OLD" bench-model --model "$Q" --dtype $d "${QW[@]}"
    run "$NEW" bench-model --model "$D" --dtype $d "${QW[@]}"
  done
fi
