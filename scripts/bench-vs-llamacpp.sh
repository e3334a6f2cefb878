#!/usr/bin/env bash
# Side by side with llama.cpp on the same GGUF files: one-token decode step, extend-8 (all 8
# rows' logits: the work of verifying 8 draft tokens) and a 128-token prefill, for our
# `bench-model` (default dtype: the quantized host kernels) and llama-cpp-python, in
# alternating runs so both see the same machine load. Prints a markdown table of medians over
# the rounds with ratios (llama.cpp time / ours: above 1 means we are faster).
# Every performance claim against llama.cpp in docs/ comes from this script.
#
#   scripts/bench-vs-llamacpp.sh [ROUNDS]        (default 3)
#   ISA=avx2 scripts/bench-vs-llamacpp.sh 5      the AVX2-only round: ours with `--isa avx2`
#                                                against llama.cpp built without its AVX-512
#                                                paths (what a CPU without AVX-512 runs)
#
# llama.cpp is built from source (llama-cpp-python's sdist) with AMX off in both builds: on the
# Xeons here with AMX, a native build segfaults at its first eval inside the VM. The native
# build keeps -march=native otherwise; the AVX2 build names its instruction sets (GGML_NATIVE
# off, AVX, AVX2, FMA, F16C, BMI2 on; every AVX-512, AVX-VNNI and AMX option off). The header
# line names the CPU the table comes from.
# Each round also measures the memory bandwidth (STREAM triad on THREADS threads) and our
# decode step as a fraction of it (`bench-model --bandwidth`).
# Env: AUTOJUDGE_MODELS (model cache), AUTOJUDGE_BIN (a built `autojudge`), THREADS (2),
#      ISA (auto: native; avx2), LLAMACPP_VENV (a venv with llama-cpp-python, one per ISA;
#      created when missing), LLAMACPP_VERSION (0.3.36), DTYPE (our --dtype, default auto),
#      MODELS (file names), RAW_DIR (keep every run's raw output there).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
M=${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}
THREADS=${THREADS:-2}
DTYPE=${DTYPE:-auto}
ISA=${ISA:-auto}
VERSION=${LLAMACPP_VERSION:-0.3.36}
NO_AMX="-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
case $ISA in
  auto)
    VENV=${LLAMACPP_VENV:-$HOME/.cache/autojudge/llamacpp-venv}
    LCPP_CMAKE="$NO_AMX" ;;
  avx2)
    VENV=${LLAMACPP_VENV:-$HOME/.cache/autojudge/llamacpp-avx2-venv}
    LCPP_CMAKE="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
      -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF \
      -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF $NO_AMX" ;;
  *) echo "ISA must be auto or avx2, not $ISA" >&2; exit 2 ;;
esac
MODELS=${MODELS:-SmolLM2-135M-Instruct.Q4_1.gguf qwen2.5-coder-0.5b-instruct-q4_k_m.gguf qwen2.5-coder-1.5b-instruct-q4_k_m.gguf}
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "installing llama-cpp-python $VERSION into $VENV (builds llama.cpp from source with" \
    "$LCPP_CMAKE: minutes)" >&2
  python3 -m venv "$VENV"
  CMAKE_ARGS="$LCPP_CMAKE" "$VENV/bin/pip" install -q --no-binary llama-cpp-python \
    --no-cache-dir "llama-cpp-python==$VERSION"
  echo "$LCPP_CMAKE" > "$VENV/autojudge-cmake-args"
fi
if [[ -z ${AUTOJUDGE_BIN:-} ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/autojudge-target}
  cargo build --release -q -p autojudge-cli
  AUTOJUDGE_BIN=$CARGO_TARGET_DIR/release/autojudge
fi
if [[ -n ${RAW_DIR:-} ]]; then
  OUT=$RAW_DIR
  mkdir -p "$OUT"
else
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi
LCPP_VER=$("$VENV/bin/python" -c "import llama_cpp; print(llama_cpp.__version__)")
LCPP_FLAGS=$(cat "$VENV/autojudge-cmake-args" 2> /dev/null || echo "unrecorded (an older venv: native)")
# What the built llama.cpp says it runs (AVX512 = 0 in the AVX2 build).
LCPP_SYS=$("$VENV/bin/python" -c "import llama_cpp; print(llama_cpp.llama_print_system_info().decode().strip())")
echo "llama-cpp-python $LCPP_VER (CMAKE_ARGS: $LCPP_FLAGS), $THREADS threads; autojudge $(git rev-parse --short HEAD) --dtype $DTYPE --isa $ISA; $(nproc) cores: $(lscpu | sed -n 's/^Model name: *//p')"
echo "llama.cpp system info: $LCPP_SYS"
for model in $MODELS; do
  f=$M/$model
  [[ -f $f ]] || { echo "missing $f (scripts/fetch-models.sh)" >&2; exit 1; }
  for r in $(seq "$ROUNDS"); do
    RAYON_NUM_THREADS=$THREADS "$AUTOJUDGE_BIN" bench-model --model "$f" --dtype "$DTYPE" \
      --isa "$ISA" --max-context 1024 --prefill 128 --decode 32 --ks 1,8 --reps 7 --bandwidth \
      >"$OUT/$model.ours.$r" 2>&1
    "$VENV/bin/python" scripts/llamacpp_bench.py --model "$f" --threads "$THREADS" \
      --prefill 128 --decode 32 --ks 1,8 --reps 7 >"$OUT/$model.llamacpp.$r" 2>&1
    echo "  $model round $r/$ROUNDS done" >&2
  done
done
"$VENV/bin/python" - "$OUT" $MODELS <<'PY'
import re, statistics, sys, glob
out, models = sys.argv[1], sys.argv[2:]
def parse(path):
    t = open(path).read()
    prefill = float(re.search(r"prefill \d+ tokens: ([\d.]+)s", t).group(1)) * 1e3
    decode = float(re.search(r"decode: ([\d.]+) ms/token", t).group(1))
    ext8 = float(re.search(r"^\s+8\s+([\d.]+)", t, re.M).group(1))
    return prefill, decode, ext8
def bandwidth(path):
    m = re.search(r"memory bandwidth .*?: ([\d.]+) GB/s; .*= ([\d.]+)% of it", open(path).read())
    return (float(m.group(1)), float(m.group(2))) if m else None
print()
print("| model | metric | llama.cpp ms | ours ms | llama.cpp / ours |")
print("| --- | --- | --- | --- | --- |")
for m in models:
    runs = {e: [parse(p) for p in sorted(glob.glob(f"{out}/{m}.{e}.*"))] for e in ("llamacpp", "ours")}
    for i, name in enumerate(("prefill 128", "decode step", "extend-8")):
        l = statistics.median(r[i] for r in runs["llamacpp"])
        o = statistics.median(r[i] for r in runs["ours"])
        print(f"| {m} | {name} | {l:.1f} | {o:.1f} | {l / o:.2f}× |")
print(f"\nmedians of {len(runs['ours'])} alternating rounds per model")
print()
print("| model | memory bandwidth GB/s (triad) | our decode step, % of it |")
print("| --- | --- | --- |")
for m in models:
    bw = [b for b in (bandwidth(p) for p in sorted(glob.glob(f"{out}/{m}.ours.*"))) if b]
    if bw:
        print(f"| {m} | {statistics.median(b[0] for b in bw):.2f} | "
              f"{statistics.median(b[1] for b in bw):.1f}% |")
PY
