#!/usr/bin/env bash
# The project's test command (README): formatting, lints, the full test suite on the default
# CPU (burn-flex) backend, and a compile check of the GPU backends.
set -euo pipefail
cd "$(dirname "$0")/.."
# A persistent target dir outside the clone is reused when present (burn builds are long).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/autojudge-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
echo "== scripts/fetch-models.sh smollm (the SmolLM2 checks need it; they fail without it)"
scripts/fetch-models.sh smollm
echo "== bubblewrap (the code sandbox's tests run programs in it; docs/sandbox.md)"
if ! command -v bwrap >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null; }
  else
    echo "bwrap not found and apt-get unavailable (or not root): the sandbox tests will fail;" \
      "install bubblewrap" >&2
  fi
fi
if command -v bwrap >/dev/null; then
  bwrap --version
  # The sandbox runs bwrap as an unprivileged uid (docs/sandbox.md): say up front whether that works.
  as_user=()
  [ "$(id -u)" = 0 ] && as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  "${as_user[@]}" bwrap --unshare-all --unshare-user --ro-bind / / true \
    && echo "bwrap: unprivileged namespaces available" \
    || echo "bwrap cannot create unprivileged namespaces here: the sandbox tests will fail" >&2
fi
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== results docs: every generated table equals what its committed raw files give"
python3 scripts/results_docs.py --check
echo "== cargo test (flex CPU backend)"
# The CLI's test-model feature on, so `bench-model --random-shape` is tested too.
cargo test --workspace --all-targets --features autojudge-cli/random-models
echo "== autojudge serve through the official openai Python client (scripts/serve_openai_client.py)"
# A virtual environment of its own holds the client (PyPI's openai 1.x).
VENV=${AUTOJUDGE_SERVE_VENV:-$HOME/.cache/autojudge/venv-serve}
if ! "$VENV/bin/python" -c "import openai" 2>/dev/null; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; }
    fi
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q "openai>=1.40,<2"
fi
# The binary `cargo test` built for the CLI's tests; SmolLM2 from scripts/fetch-models.sh.
"$VENV/bin/python" scripts/serve_openai_client.py --bin "$CARGO_TARGET_DIR/debug/autojudge" \
  --model "${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
echo "== a bounded load test of autojudge serve on loopback (scripts/bench_serve.py --check)"
# 16 requests, one at a time and 16 at once: every response arrives once, with the text the
# same request gets alone. Its figures are printed, never asserted.
"$VENV/bin/python" scripts/bench_serve.py --check --bin "$CARGO_TARGET_DIR/debug/autojudge" \
  --server-args "--model ${AUTOJUDGE_MODELS:-$HOME/.cache/autojudge/models}/SmolLM2-135M-Instruct.Q4_1.gguf --draft self:exit:24 --k 4" \
  --methods lossless --clients 1,16 --requests 16 --max-tokens 16 --data data/gsm8k/test.jsonl
echo "== Slurm: the job arrays of docs/scale-out.md under a one-node Slurm (scripts/slurm/)"
# A cluster that already takes jobs is used as it is; otherwise one is brought up here (root,
# packages from apt where missing) and taken down at the end.
if ! sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)'; then
  scripts/slurm/local-cluster.sh up
  trap 'scripts/slurm/local-cluster.sh down' EXIT
fi
cargo test -p autojudge-cli --features random-models --test slurm -- --ignored
echo "== cargo clippy -D warnings, with the GPU backends (cuda, wgpu): they must compile too"
# One check build for the lints and the GPU code (the GPU tests included, as
# scripts/gpu-check.sh builds them for an NVIDIA machine), in the same target directory: cargo
# keeps each feature set's artifacts side by side, and the dependencies burn's features do not
# touch are built once.
cargo clippy --workspace --all-targets \
  --features autojudge-cli/random-models,autojudge-cli/cuda,autojudge-cli/wgpu -- -D warnings
echo "== wgpu on lavapipe (Mesa's software Vulkan driver): the burn forward on a GPU backend"
# Golden logits (tiny models, SmolLM2), GPU vs CPU logits, chunked/incremental agreement,
# truncate-then-extend and lossless speculation, on the first Vulkan device (in CI lavapipe,
# which runs the compute shaders on the CPU). Same target dir: only burn's wgpu build is new.
if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q mesa-vulkan-drivers >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mesa-vulkan-drivers >/dev/null; }
  else
    echo "no lavapipe and apt-get unavailable (or not root): the wgpu tests need a Vulkan device;" \
      "install mesa-vulkan-drivers" >&2
  fi
fi
cargo test -p autojudge-models --features wgpu --test gpu_backend
echo "== cargo package: the engine-agnostic crates pack and build from their packages alone"
# Cargo verifies the packages through a local registry whose crates it treats as immutable:
# an extraction or a build of an earlier run of the same version would be reused stale. The
# verification gets its own target directory, and these crates' extractions and artifacts are
# removed first (their dependencies stay built).
PKG_TARGET="${CARGO_TARGET_DIR}-package"
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/autojudge-{core,decode,tasks,runs,serve,search,classifier,eval}-[0-9]* \
  "$PKG_TARGET"/package "$PKG_TARGET"/debug/.fingerprint/autojudge-* "$PKG_TARGET"/debug/deps/*autojudge*
CARGO_TARGET_DIR="$PKG_TARGET" cargo package -q --allow-dirty -p autojudge-core -p autojudge-decode -p autojudge-tasks -p autojudge-runs \
  -p autojudge-serve \
  -p autojudge-search -p autojudge-classifier -p autojudge-eval
echo "== cargo doc --no-deps (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -q --workspace
echo "== all checks passed"
