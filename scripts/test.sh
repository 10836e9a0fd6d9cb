#!/usr/bin/env bash
# The test command: install everything (idempotent), then lint, type-check and run the suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" -k chunking
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
# shellcheck disable=SC1091
. "${VENV:-.venv}/bin/activate"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
echo "==> ruff" >&2
ruff check assistant ingest bots tests benchmarks
echo "==> mypy" >&2
mypy
echo "==> pytest" >&2
python -m pytest -m "not gpu" --timeout=600 -q -rfE --durations=25 "$@"
