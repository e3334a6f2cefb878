#!/usr/bin/env bash
# The showcase campaign (scripts/showcase-qwen.sh) as one background job that accumulates
# across interrupted runs: start it whenever work on the project starts, keep building and
# testing in the foreground, commit its finished blocks as they come.
#
#   scripts/campaign.sh start [STAGE ...]   start or continue it in the background at nice 19
#                                           (stages as showcase-qwen.sh takes them; default: all)
#   scripts/campaign.sh pause | resume      SIGSTOP / SIGCONT the whole job (quiet machine for a
#                                           benchmark)
#   scripts/campaign.sh status              running or not, the log's tail, what is left
#   scripts/campaign.sh stop                end it (a prompt in flight is the only loss)
#   scripts/campaign.sh commit              commit the campaign's finished files (git commit of
#                                           docs/results/showcase-qwen, and the status in
#                                           gsm8k-qwen.md from scripts/campaign_status.py)
#
# While it runs, never `git stash`, `git checkout` or `git reset --hard` over its directory:
# git replaces the files a running `mine` appends to, and what it appends then goes to a
# deleted file. `commit` only reads them.
#
# It runs from copies of the release binary and of scripts/showcase-qwen.sh (CAMPAIGN_HOME/bin),
# so rebuilds and edits in the foreground never change a running job. The job's output is
# CAMPAIGN_HOME/campaign.log; its process group id is CAMPAIGN_HOME/pgid.
# Env: CAMPAIGN_HOME (default ~/.cache/autojudge/campaign), JOBS (default: the number of cores),
#      and everything showcase-qwen.sh reads.
set -euo pipefail
cd "$(dirname "$0")/.."
HOME_DIR=${CAMPAIGN_HOME:-$HOME/.cache/autojudge/campaign}
OUT=${OUT:-docs/results/showcase-qwen}
mkdir -p "$HOME_DIR/bin"
PGID_FILE=$HOME_DIR/pgid
LOG=$HOME_DIR/campaign.log

running() {
  [[ -f $PGID_FILE ]] && kill -0 -- "-$(cat "$PGID_FILE")" 2> /dev/null
}

signal() {
  running || { echo "the campaign is not running" >&2; exit 1; }
  kill "-$1" -- "-$(cat "$PGID_FILE")"
}

cmd=${1:-status}
shift || true
case $cmd in
  start)
    if running; then
      echo "the campaign is already running (process group $(cat "$PGID_FILE")); log: $LOG"
      exit 0
    fi
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/autojudge-target}
    cargo build --release -q -p autojudge-cli
    cp "$CARGO_TARGET_DIR/release/autojudge" "$HOME_DIR/bin/autojudge.new"
    mv "$HOME_DIR/bin/autojudge.new" "$HOME_DIR/bin/autojudge"
    # bash reads a script as it runs it: the job runs a copy, so editing the checkout's
    # script never changes the commands of a running campaign.
    cp scripts/showcase-qwen.sh "$HOME_DIR/bin/showcase-qwen.sh"
    # A new session (setsid) gives the job its own process group for pause/resume/stop.
    AUTOJUDGE_BIN="$HOME_DIR/bin/autojudge" OUT=$OUT SHOWCASE_REPO=$PWD \
      setsid nohup nice -n 19 "$HOME_DIR/bin/showcase-qwen.sh" "$@" >> "$LOG" 2>&1 < /dev/null &
    echo $! > "$PGID_FILE"
    # With the kernel's autogroup scheduling, nice ranks processes only within their session:
    # the new session's group gets nice 19 too, or it takes half the machine from the foreground.
    # Only once the job leads its own session: before setsid, the group is this shell's.
    for _ in $(seq 50); do
      [[ $(ps -o sid= -p "$!" | tr -d ' ') == "$!" ]] && break
      sleep 0.1
    done
    if [[ $(ps -o sid= -p "$!" | tr -d ' ') == "$!" && -w /proc/$!/autogroup ]]; then
      echo 19 > "/proc/$!/autogroup" || true
    fi
    echo "campaign started (process group $!, nice 19); log: $LOG"
    ;;
  pause) signal STOP && echo "paused" ;;
  resume) signal CONT && echo "resumed" ;;
  stop)
    signal CONT || true
    signal TERM && echo "stopped"
    ;;
  status)
    if running; then echo "running (process group $(cat "$PGID_FILE"))"; else echo "not running"; fi
    [[ -f $LOG ]] && tail -n 5 "$LOG"
    python3 scripts/showcase_cost.py "$OUT" || true
    ;;
  commit)
    # The status in gsm8k-qwen.md, from the committed records.
    python3 scripts/campaign_status.py
    git add -- "$OUT" docs/results/gsm8k-qwen.md
    if git diff --cached --quiet -- "$OUT" docs/results/gsm8k-qwen.md; then
      echo "nothing new in $OUT"
    else
      git commit -q -m "campaign: finished blocks in $OUT ($(date -u +%Y-%m-%dT%H:%MZ))" -- \
        "$OUT" docs/results/gsm8k-qwen.md
      git log --oneline -1
    fi
    ;;
  *) echo "usage: scripts/campaign.sh start [STAGE ...] | pause | resume | status | stop | commit" >&2; exit 2 ;;
esac
