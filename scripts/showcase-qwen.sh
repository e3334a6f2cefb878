#!/usr/bin/env bash
# The showcase at scale: AutoJudge on GSM8K (and HumanEval) with Qwen2.5-Coder-1.5B-Instruct
# (target) and Qwen2.5-Coder-0.5B-Instruct (draft), Q4_K_M GGUF on the quantized CPU kernels.
#
#   scripts/showcase-qwen.sh [STAGE ...]     stages: mine train curve eval sweep humaneval report
#                                            (default: all, in that order)
#
# Everything lands in OUT (default docs/results/showcase-qwen, committed) in blocks that resume:
# a stage interrupted anywhere (kill -9 included) continues where it stopped when rerun, on
# this machine or on another one with a checkout of the committed files. Work runs as JOBS
# one-thread processes at once (default: the number of cores), one block each:
#   mined/bNNNN                 GSM8K train prompts NNNN..NNNN+MINE_BLOCK-1, mined (committed as
#                               records only: features/ is recomputed by `autojudge refeature`)
#   judges/<features>-n<N>.*    judges trained on the blocks of the first JUDGE_PROMPTS train
#                               prompts; N counts the prompts those blocks held (a judge trained
#                               on unfinished blocks is named for what it saw)
#   curve/                      learning curve (validation AUC at 40, 80, 160, all prompts) and
#                               the mining gate's decision (curve/gate.md)
#   eval-gsm8k/k<K>/bNNN        GSM8K test prompts NNN..NNN+EVAL_BLOCK-1 at window K, every method
#   eval-humaneval/...          HumanEval: mined problems 0..HE_TRAIN-1, evaluated on the rest
#   report-*/                   tables and plots (autojudge operating-points): report-gsm8k-main
#                               (window K, every prompt), report-gsm8k-sweep (every window, the
#                               first SWEEP_PROMPTS prompts), report-humaneval
#
# Labels (mining) and answers (evaluation) use the reference's prompt (its eight-shot GSM8K
# wording, the default of its mining script), response cap (2,048 new tokens) and EOS rule
# (`--labels reference`) with the lenient answer reader restricted to the phrase and `\boxed{}`
# (a swap that only changes how the answer is written is not important). The zero-shot run that
# came first is docs/results/showcase-qwen-0shot (docs/results/gsm8k-qwen.md says why the
# wording changed).
#
# The method set answers one question (does a judge beat lossless SD and JuDi at equal
# answer-keeping?): target-only, lossless SD (its counters derived from target-only's output,
# `--lossless derived`), JuDi at two tau, and the judges of EVAL_FEATURES at their own
# threshold and QUANTILES. Top-k and loose JuDi failed both operating points on the first 50
# prompts (docs/results/showcase-qwen-0shot) and are not run again.
#
# Env: OUT, JOBS, MINE_PROMPTS (200; the learning-curve gate decides whether to go on, up to
#      500), MINE_BLOCK (50), JUDGE_PROMPTS (MINE_PROMPTS), FEATURES ("dt dd-dt dt+logits
#      dd-dt+logits", trained), EVAL_FEATURES ("dd-dt+logits", evaluated), EVAL_PROMPTS (200),
#      EVAL_BLOCK (25), K (8), SWEEP_KS ("16"), SWEEP_PROMPTS (100), QUANTILES (0.4,0.7:
#      thresholds besides each judge's own), JUDI (0.1,0.3), TOPK (none), HE_TRAIN (100),
#      HE_KS ("8 16"), AUTOJUDGE_MODELS, AUTOJUDGE_BIN (a built `autojudge`; default: cargo
#      build --release), SHOWCASE_REPO (the checkout, when this file runs from a copy).
set -euo pipefail
# SHOWCASE_REPO: the checkout to work in when this file runs from a copy (scripts/campaign.sh).
cd "${SHOWCASE_REPO:-$(dirname "$0")/..}"
OUT=${OUT:-docs/results/showcase-qwen}
JOBS=${JOBS:-$(nproc)}
MINE_PROMPTS=${MINE_PROMPTS:-200}
MINE_BLOCK=${MINE_BLOCK:-50}
JUDGE_PROMPTS=${JUDGE_PROMPTS:-$MINE_PROMPTS}
FEATURES=${FEATURES:-dt dd-dt dt+logits dd-dt+logits}
EVAL_FEATURES=${EVAL_FEATURES:-dd-dt+logits}
EVAL_PROMPTS=${EVAL_PROMPTS:-200}
EVAL_BLOCK=${EVAL_BLOCK:-25}
K=${K:-8}
SWEEP_KS=${SWEEP_KS:-16}
SWEEP_PROMPTS=${SWEEP_PROMPTS:-100}
QUANTILES=${QUANTILES:-0.4,0.7}
JUDI=${JUDI:-0.1,0.3}
TOPK=${TOPK:-none}
HE_TRAIN=${HE_TRAIN:-100}
HE_KS=${HE_KS:-8 16}
STAGES=("$@")
[[ ${#STAGES[@]} -gt 0 ]] || STAGES=(mine train curve eval sweep humaneval report)
DEST=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
scripts/fetch-models.sh qwen
if [[ -z ${AUTOJUDGE_BIN:-} ]]; then
  cargo build --release -q -p autojudge-cli
  AUTOJUDGE_BIN=${CARGO_TARGET_DIR:-target}/release/autojudge
fi
AJ=$(printf %q "$AUTOJUDGE_BIN")
# Command lines are strings run by run_jobs: paths go in quoted (%q).
PAIR="--model $(printf %q "$DEST/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf") --max-context 4096 \
  --draft $(printf %q "$DEST/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")"
q() { printf %q "$1"; }
GSM8K="--task gsm8k --labels reference --gsm8k-answer lenient --gsm8k-fallback boxed"
HUMANEVAL="--task humaneval --labels reference"
LOGS=$OUT/logs
mkdir -p "$OUT" "$LOGS"

# Runs each argument ("name|command line") as a one-thread job, JOBS at once; logs to
# $LOGS/<name>.log. Returns 1 after all jobs ended when any failed.
run_jobs() {
  local failed=0 cmd name pids=() p
  for cmd in "$@"; do
    while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || true; done
    name=${cmd%%|*}
    echo "[$(date -u +%H:%M:%S)] start $name"
    ( eval "RAYON_NUM_THREADS=1 ${cmd#*|}" > "$LOGS/$name.log" 2>&1 \
        && echo "[$(date -u +%H:%M:%S)] done  $name" \
        || { echo "[$(date -u +%H:%M:%S)] FAILED $name (see $LOGS/$name.log)"; exit 1; } ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  return $failed
}

blocks() { # blocks TOTAL SIZE -> the block starts
  local s; for ((s = 0; s < $1; s += $2)); do echo "$s"; done
}

mined_dirs() { # the mined blocks holding the first $1 prompts
  local s; for s in $(blocks "$1" "$MINE_BLOCK"); do printf '%s ' "$OUT/mined/b$(printf %04d "$s")"; done
}

judge_tag() { # n<prompts mined so far in the blocks of the first JUDGE_PROMPTS prompts>
  # shellcheck disable=SC2046
  printf 'n%s' "$(cat $(for d in $(mined_dirs "$JUDGE_PROMPTS"); do echo "$d/records.jsonl"; done) 2> /dev/null | wc -l)"
}

judges() { # judge files of EVAL_FEATURES (judge_tag), as --judge flags
  local f t; t=$(judge_tag)
  for f in $EVAL_FEATURES; do printf -- '--judge %q ' "$OUT/judges/$f-$t.safetensors"; done
}

families() { # --family flags: the baselines and the evaluated judges (judge_tag) found in $1's results
  local f t fam
  t=$(judge_tag)
  for fam in top-k judi $(for f in $EVAL_FEATURES; do echo "autojudge-$f-$t"; done); do
    if cat "$1"/k*/b*/results.jsonl 2> /dev/null | grep -q "\"family\":\"$fam\""; then
      printf -- '--family %s ' "$fam"
    fi
  done
}

eval_blocks() { # eval_blocks TASK_FLAGS DATA DIR K PROMPTS SKIP0 [JUDGE_FLAGS]
  local task=$1 data=$2 dir=$3 k=$4 prompts=$5 skip0=$6 judge=${7:-} cmds=() s n b
  for s in $(blocks "$prompts" "$EVAL_BLOCK"); do
    n=$(( prompts - s < EVAL_BLOCK ? prompts - s : EVAL_BLOCK ))
    b=$dir/k$k/b$(printf %03d "$s")
    cmds+=("$(basename "$dir")-k$k-b$(printf %03d "$s")|$AJ eval $PAIR $task --data $(q "$data") \
      --skip $((skip0 + s)) --prompts $n --k $k --topk $TOPK --prob none --judi $JUDI --lossless derived \
      --judge-quantiles $QUANTILES $judge --out $(q "$b")")
  done
  run_jobs "${cmds[@]}"
}

eval_dirs() { # the block directories of DIR at the windows given, one per line
  local dir=$1 k; shift
  for k in "$@"; do
    for b in "$dir/k$k"/b*; do [[ -d $b ]] && echo "$b"; done
  done
}

for stage in "${STAGES[@]}"; do
  echo "== $stage"
  case $stage in
    mine)
      cmds=()
      for s in $(blocks "$MINE_PROMPTS" "$MINE_BLOCK"); do
        b=$(printf %04d "$s")
        n=$(( MINE_PROMPTS - s < MINE_BLOCK ? MINE_PROMPTS - s : MINE_BLOCK ))
        cmds+=("mine-b$b|$AJ mine $PAIR $GSM8K --draft-proposals 8 --data data/gsm8k/train.jsonl \
          --skip $s --prompts $n --out $(q "$OUT/mined/b$b")")
      done
      run_jobs "${cmds[@]}"
      # shellcheck disable=SC2046
      "$AUTOJUDGE_BIN" mine-stats $(mined_dirs "$MINE_PROMPTS") | tee "$OUT/mine-stats.md"
      ;;
    train)
      # The blocks are committed as records only: their feature files come back from them
      # (a few forwards per prompt; nothing to do where they exist).
      # shellcheck disable=SC2046,SC2086
      "$AUTOJUDGE_BIN" refeature $PAIR $GSM8K --data data/gsm8k/train.jsonl \
        $(for d in $(mined_dirs "$JUDGE_PROMPTS"); do [[ -d $d ]] && printf '%q ' "$d"; done)
      # Into a scratch directory first, then moved: an interrupted training leaves no judge
      # file that a rerun would take for finished.
      mkdir -p "$OUT/judges"
      tag=$(judge_tag)
      for f in $FEATURES; do
        [[ -f $OUT/judges/$f-$tag.safetensors ]] && continue
        tmp=$OUT/judges/.partial
        rm -rf "$tmp" && mkdir -p "$tmp"
        # shellcheck disable=SC2046
        "$AUTOJUDGE_BIN" train $(printf -- '--data %s ' $(mined_dirs "$JUDGE_PROMPTS")) \
          --features "$f" --out "$tmp/$f-$tag.safetensors" | tee "$LOGS/train-$f-$tag.log"
        mv "$tmp"/* "$OUT/judges/" && rmdir "$tmp"
      done
      ;;
    curve)
      # The mining gate: validation AUC at 40, 80 and 160 training prompts (and all there
      # are) on one fixed validation split of a fifth of the prompts; curve/gate.md says
      # whether the best feature set still gains beyond its interval per doubling (then mine
      # on, MINE_PROMPTS twice as large, up to 500).
      n=$(judge_tag); n=${n#n}
      train_n=$(( n * 4 / 5 ))
      sizes=""
      for s in 40 80 160 320; do
        if (( s < train_n )); then sizes+="$s,"; fi
      done
      # shellcheck disable=SC2046
      "$AUTOJUDGE_BIN" learning-curve $(printf -- '--data %s ' $(mined_dirs "$JUDGE_PROMPTS")) \
        --features "$(echo "$FEATURES" | tr ' ' ',')" --sizes "$sizes$train_n" \
        --val-fraction 0.2 --gate-cap 500 --out "$OUT/curve"
      ;;
    eval)
      eval_blocks "$GSM8K" data/gsm8k/test.jsonl "$OUT/eval-gsm8k" "$K" "$EVAL_PROMPTS" 0 "$(judges)"
      ;;
    sweep)
      for k in $SWEEP_KS; do
        [[ $k == "$K" ]] && continue
        eval_blocks "$GSM8K" data/gsm8k/test.jsonl "$OUT/eval-gsm8k" "$k" "$SWEEP_PROMPTS" 0 "$(judges)"
      done
      ;;
    humaneval)
      HE=$OUT/humaneval
      run_jobs "he-mine|$AJ mine $PAIR $HUMANEVAL --draft-proposals 8 \
        --data data/humaneval/HumanEval.jsonl.gz --prompts $HE_TRAIN --out $(q "$HE/mined")"
      mkdir -p "$HE/judges"
      for f in $EVAL_FEATURES; do
        [[ -f $HE/judges/$f.safetensors ]] && continue
        rm -rf "$HE/judges/.partial" && mkdir -p "$HE/judges/.partial"
        "$AUTOJUDGE_BIN" train --data "$HE/mined" --features "$f" --out "$HE/judges/.partial/$f.safetensors"
        mv "$HE/judges/.partial"/* "$HE/judges/" && rmdir "$HE/judges/.partial"
      done
      hj=$(for f in $EVAL_FEATURES; do printf -- '--judge %q ' "$HE/judges/$f.safetensors"; done)
      for k in $HE_KS; do
        eval_blocks "$HUMANEVAL" data/humaneval/HumanEval.jsonl.gz "$HE/eval" "$k" $((164 - HE_TRAIN)) "$HE_TRAIN" "$hj"
      done
      ;;
    report)
      mapfile -t main < <(eval_dirs "$OUT/eval-gsm8k" "$K")
      # shellcheck disable=SC2046
      # shellcheck disable=SC2086 # the windows are words
      mapfile -t sweep < <(eval_dirs "$OUT/eval-gsm8k" $(printf '%s\n' "$K" $SWEEP_KS | sort -nu))
      # shellcheck disable=SC2046
      [[ ${#main[@]} -gt 0 ]] && "$AUTOJUDGE_BIN" operating-points $(families "$OUT/eval-gsm8k") \
        --out "$OUT/report-gsm8k-main" "${main[@]}" | tee "$LOGS/report-main.log"
      # shellcheck disable=SC2046
      [[ ${#sweep[@]} -gt 0 ]] && "$AUTOJUDGE_BIN" operating-points $(families "$OUT/eval-gsm8k") \
        --first "$SWEEP_PROMPTS" --out "$OUT/report-gsm8k-sweep" "${sweep[@]}" | tee "$LOGS/report-sweep.log"
      # shellcheck disable=SC2086 # the windows are words
      mapfile -t he < <(eval_dirs "$OUT/humaneval/eval" $HE_KS)
      [[ ${#he[@]} -gt 0 ]] && "$AUTOJUDGE_BIN" operating-points --out "$OUT/report-humaneval" \
        "${he[@]}" | tee "$LOGS/report-humaneval.log"
      true
      ;;
    *) echo "unknown stage $stage (mine train curve eval sweep humaneval report)" >&2; exit 2 ;;
  esac
done
