#!/usr/bin/env bash
# Create .venv with the locked dependencies and the project installed (editable).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Python 3.11 or newer is required (found $("$PYTHON" --version 2>&1))." >&2
    echo "       Set PYTHON=/path/to/python3.11 and run again." >&2
    exit 1
fi
if ! command -v uv >/dev/null 2>&1; then
    "$PYTHON" -m pip install --quiet --disable-pip-version-check uv
fi
UV="$(command -v uv || echo "$PYTHON -m uv")"
[ -x .venv/bin/python ] || $UV venv --quiet --python "$PYTHON" .venv
VIRTUAL_ENV=.venv $UV pip install --quiet -r requirements.lock.txt
VIRTUAL_ENV=.venv $UV pip install --quiet --no-deps -e .
echo "setup: .venv ready ($(.venv/bin/python --version)); run .venv/bin/claims-scrub --help"
