#!/usr/bin/env bash
# The GPU check: golden logits, engine benchmarks and decoding on an NVIDIA GPU, run from
# prebuilt binaries (a GPU machine may have no Rust toolchain). Two steps:
#
#   scripts/gpu-check.sh build       # where cargo is: release binaries with --features cuda
#                                    # into dist/gpu-check/ (carry that folder along)
#   scripts/gpu-check.sh run [OUT]   # on the GPU machine, from the repository root: every
#                                    # check below, then OUT/summary.json and OUT/summary.md
#                                    # (OUT defaults to docs/results/gpu/<date>-<device>)
#
# The run locates libnvrtc (burn 0.21's CUDA backend compiles its kernels with NVRTC at run
# time) and adds its directory to LD_LIBRARY_PATH, then runs:
#   golden      the GPU test binary (crates/autojudge-models/tests/gpu_backend.rs): HF golden
#               logits of the tiny Llama / Qwen2 / Llama-3.1 models and SmolLM2, GPU vs CPU
#               logits, incremental vs chunked vs full, truncate-then-extend
#   bench-*     bench-model (decode, extend-k for k = 1..32, batch 1 and 8) on SmolLM2, on
#               Qwen2.5-Coder-1.5B when its file is there, and on a random-weight
#               Llama-3.2-1B-shaped model, in f16 and f32
#   greedy-*    dtype-agreement on 20 GSM8K prompts on the GPU and on the CPU: the f32 greedy
#               outputs of both devices compared prompt by prompt in the summary
#   decode-*    bench-decode lossless (self-draft exit:16 and n-gram) and the pipeline (mine,
#               train, evaluate a judge) on 20 GSM8K test prompts, SmolLM2, on the GPU
# A failing step is recorded and the run goes on. Env: DEVICE (cuda; wgpu or cpu try the
# script elsewhere with binaries built for it: FEATURE=wgpu), MODELS (default
# ~/.cache/autojudge/models), BIN_DIR (default dist/gpu-check), QUICK=1 (small budgets).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
BIN_DIR=${BIN_DIR:-dist/gpu-check}
DEVICE=${DEVICE:-cuda}
FEATURE=${FEATURE:-$DEVICE}

if [ "$mode" = build ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/autojudge-target-$FEATURE}
  features=$FEATURE
  [ "$FEATURE" = cpu ] && features=""
  cargo build --release -p autojudge-cli --features "random-models${features:+,$features}"
  test_bin=$(cargo test --release -p autojudge-models ${features:+--features "$features"} \
    --test gpu_backend --no-run --message-format=json |
    python3 -c 'import json, sys
for m in map(json.loads, sys.stdin):
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "gpu_backend":
        print(m["executable"])' | tail -1)
  [ -n "$test_bin" ] || { echo "the gpu_backend test binary was not built (feature $FEATURE?)" >&2; exit 1; }
  mkdir -p "$BIN_DIR"
  cp "$CARGO_TARGET_DIR/release/autojudge" "$BIN_DIR/autojudge"
  cp "$test_bin" "$BIN_DIR/gpu_backend"
  echo "$FEATURE" >"$BIN_DIR/FEATURE"
  git rev-parse HEAD >"$BIN_DIR/COMMIT"
  ls -la "$BIN_DIR"
  exit 0
fi
[ "$mode" = run ] || { echo "usage: $0 build | run [OUT]" >&2; exit 2; }

BIN="$BIN_DIR/autojudge"
[ -x "$BIN" ] && [ -x "$BIN_DIR/gpu_backend" ] ||
  { echo "no binaries in $BIN_DIR: run \`scripts/gpu-check.sh build\` where cargo is" >&2; exit 1; }
MODELS=${MODELS:-$HOME/.cache/autojudge/models}
SMOLLM="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN="$MODELS/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
[ -f "$SMOLLM" ] || { echo "$SMOLLM missing: scripts/fetch-models.sh smollm" >&2; exit 1; }
OUT=${2:-docs/results/gpu/$(date -u +%Y-%m-%d)-$DEVICE}
mkdir -p "$OUT/logs"
STEPS="$OUT/steps.tsv"
: >"$STEPS"

if [ "$DEVICE" = cuda ]; then
  nvrtc=""
  for d in ${CUDA_HOME:+$CUDA_HOME/lib64} ${CUDA_PATH:+$CUDA_PATH/lib64} /usr/local/cuda/lib64 \
    /usr/local/cuda-*/lib64 /usr/local/cuda-*/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu \
    /usr/lib64 $(python3 -c 'import site; print(" ".join(p + "/nvidia/cuda_nvrtc/lib" for p in site.getsitepackages()))' 2>/dev/null); do
    if ls "$d"/libnvrtc.so* >/dev/null 2>&1; then nvrtc=$d; break; fi
  done
  [ -z "$nvrtc" ] && nvrtc=$(ldconfig -p 2>/dev/null | awk '/libnvrtc\.so/ {print $NF; exit}' | xargs -r dirname)
  [ -n "$nvrtc" ] || { echo "libnvrtc not found (CUDA toolkit or pip nvidia-cuda-nvrtc-cu12); set CUDA_HOME" >&2; exit 1; }
  export LD_LIBRARY_PATH="$nvrtc${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "libnvrtc: $nvrtc"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$OUT/logs/gpu.txt" 2>&1 || true
fi

# step NAME CMD...: runs CMD with its output in logs/NAME.log; records status and seconds.
step() {
  local name=$1
  shift
  echo "== $name: $*"
  local start end rc
  start=$(date +%s.%N)
  set +e
  "$@" >"$OUT/logs/$name.log" 2>&1
  rc=$?
  set -e
  end=$(date +%s.%N)
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(awk "BEGIN {print $end - $start}")" "$*" >>"$STEPS"
  if [ "$rc" -ne 0 ]; then
    echo "   failed (exit $rc): $(grep -m1 -E 'Error|panicked' "$OUT/logs/$name.log" || tail -n 1 "$OUT/logs/$name.log")"
  else
    tail -n 4 "$OUT/logs/$name.log"
  fi
}

if [ "${QUICK:-0}" = 1 ]; then
  KS=1,2,4,8 PREFILL=32 DECODE=8 BATCH=1,2 PROMPTS=3 NEW=32 MINE=3
else
  KS=1,2,4,8,16,32 PREFILL=128 DECODE=64 BATCH=1,8 PROMPTS=20 NEW=128 MINE=30
fi

step golden env AUTOJUDGE_ROOT="$PWD" AUTOJUDGE_SMOLLM="$SMOLLM" \
  "$BIN_DIR/gpu_backend" --test-threads 1 --nocapture
bench() { # NAME DTYPE MODEL-ARGS...
  local name=$1 dtype=$2
  shift 2
  step "bench-$name-$dtype" "$BIN" bench-model --device "$DEVICE" --dtype "$dtype" "$@" \
    --prefill "$PREFILL" --decode "$DECODE" --ks "$KS" --batch "$BATCH" --batch-k 8
}
for dtype in f16 f32; do
  bench smollm2 "$dtype" --model "$SMOLLM"
  [ -f "$QWEN" ] && bench qwen1.5b "$dtype" --model "$QWEN" --max-context 2048
  bench llama3.2-1b-random "$dtype" --model "$SMOLLM" --random-shape llama-3.2-1b --max-context 2048
done
step greedy-gpu "$BIN" dtype-agreement --device "$DEVICE" --model "$SMOLLM" --dtype f16 \
  --reference f32 --prompts "$PROMPTS" --max-new-tokens "$NEW" --json "$OUT/greedy-gpu.json"
step greedy-cpu "$BIN" dtype-agreement --device cpu --model "$SMOLLM" --dtype f32 \
  --reference f32 --kernel host --prompts "$PROMPTS" --max-new-tokens "$NEW" --json "$OUT/greedy-cpu.json"
step decode-lossless "$BIN" bench-decode --device "$DEVICE" --dtype f32 --model "$SMOLLM" \
  --draft self:exit:16 --draft ngram --ks 4,8 --prompts "$PROMPTS" --max-new-tokens "$NEW" \
  --json "$OUT/decode-lossless.json"
step decode-judge "$BIN" pipeline --device "$DEVICE" --dtype f32 --model "$SMOLLM" \
  --mine-prompts "$MINE" --eval-prompts "$PROMPTS" --out "$OUT/pipeline"

command -v python3 >/dev/null ||
  { echo "python3 not found: the steps' logs are in $OUT/logs, no summary written" >&2; exit 1; }
python3 - "$OUT" "$DEVICE" "$(cat "$BIN_DIR/COMMIT" 2>/dev/null || echo unknown)" <<'PY'
import json, pathlib, re, sys
out, device, commit = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
steps = []
for line in (out / "steps.tsv").read_text().splitlines():
    name, rc, secs, cmd = line.split("\t", 3)
    log = (out / "logs" / f"{name}.log").read_text(errors="replace")
    steps.append({"name": name, "exit": int(rc), "seconds": round(float(secs), 1), "command": cmd,
                  "key_lines": [l for l in log.splitlines()
                                if re.search(r"tok/s|ms|worst|test result|identical|FAILED|panicked|Error", l)][-40:]})
greedy = {}
try:
    g = {d: json.loads((out / f"greedy-{d}.json").read_text()) for d in ("gpu", "cpu")}
    rows = lambda v: v["prompts"] if isinstance(v, dict) else v
    ref = lambda r: r.get("reference_output") or r.get("reference")
    pairs = list(zip(rows(g["gpu"]), rows(g["cpu"])))
    same = sum(ref(a) == ref(b) for a, b in pairs)
    greedy = {"prompts": len(pairs), "f32_outputs_identical_gpu_vs_cpu": same,
              "flips": len(pairs) - same}
except Exception as e:  # a failed step leaves no JSON: say so
    greedy = {"error": f"{type(e).__name__}: {e}"}
gpu = (out / "logs" / "gpu.txt")
summary = {"device": device, "gpu": gpu.read_text().strip() if gpu.exists() else None,
           "commit": commit, "steps": steps, "greedy_smollm2": greedy}
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
md = [f"# GPU check ({device})", "", f"Binaries built from `{commit}`; GPU: {summary['gpu']}.", "",
      "| step | exit | seconds |", "|---|---|---|"]
md += [f"| {s['name']} | {s['exit']} | {s['seconds']} |" for s in steps]
md += ["", f"Greedy SmolLM2, f32, GPU vs CPU: `{json.dumps(greedy)}`", ""]
for s in steps:
    md += [f"## {s['name']}", "", f"`{s['command']}`", "", "```", *s["key_lines"], "```", ""]
(out / "summary.md").write_text("\n".join(md))
print(f"wrote {out}/summary.json and {out}/summary.md")
PY
