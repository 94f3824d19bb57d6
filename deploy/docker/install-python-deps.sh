#!/usr/bin/env bash
# Install the production requirements into a new virtualenv, exactly as locked. The Dockerfile's
# builder stage runs this; so does `make image-check` (scripts/image_check.py), so both install
# exactly the same way.
#
#   deploy/docker/install-python-deps.sh VENV_DIR
#
# Installed: requirements/production.lock, compiled from requirements/base.txt by `make lock`,
# with --require-hashes (every file pip fetches must match a sha256 recorded in the lock, and
# every package, transitive ones too, must be pinned there) and --no-deps (the lock is the
# whole set; nothing is resolved at build time). Wheels only: no compiler is needed.
# Never ml.txt (torch, open_clip, transformers: the image serves the ONNX export with
# onnxruntime), dev.txt, nor embedded-db.txt (SecantusDB, GPL-2.0, development and CI only).
set -euo pipefail

venv=${1:?usage: install-python-deps.sh VENV_DIR}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")/../.." && pwd)
lock=$here/requirements/production.lock

"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)
"${pip[@]}" install --no-cache-dir --require-hashes --no-deps --only-binary :all: -r "$lock"
# The lock is complete and consistent: pip finds nothing missing or conflicting.
"${pip[@]}" check
