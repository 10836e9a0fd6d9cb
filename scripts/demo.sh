#!/usr/bin/env bash
# The demo command: install, ingest the example corpus, serve the widget, API and demo page on
# http://127.0.0.1:8000/ with the default (extractive) backend. Ctrl-C stops it. For the embedded
# LLM instead: ASSISTANT_LLM_BACKEND=local ./scripts/demo.sh (builds llama-cpp-python once).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# shellcheck disable=SC1091
. "${VENV:-.venv}/bin/activate"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec assistant demo "$@"
