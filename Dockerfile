# syntax=docker/dockerfile:1
# BuyHive API image: gunicorn + uvicorn workers serving Django on the production settings.
#
#   docker build -t buyhive:dev --build-arg BUYHIVE_RELEASE=$(git rev-parse HEAD) .
#   docker build --build-arg BAKE_MODELS=1 ...        # CLIP weights inside (needs internet)
#
# Two stages: `builder` builds wheels and installs them into /opt/venv (it may compile);
# `runtime` gets that venv and the code, no compilers, runs as an unprivileged user.
# Secrets are never in the image: the running container reads them from its environment
# (ECS task secrets from SSM). `make image-check` checks these steps on a machine without a
# Docker engine (docs/deploy.md says what it covers).

# The base is pinned to Python 3.11 on Debian 12 (the release CI and developers use); pin the
# digest too (python:3.11-slim-bookworm@sha256:...) once it is resolved by a registry.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Compilers for any sdist without a wheel; this stage is thrown away.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build
COPY requirements/base.txt requirements/ml.txt requirements/ml-nodeps.txt requirements/docker-cpu.txt requirements/
COPY deploy/docker/install-python-deps.sh deploy/docker/
# torch/torchvision: CPU-only builds from the PyTorch CPU index (requirements/docker-cpu.txt),
# everything else from PyPI, then installed from those wheels only.
RUN TORCH_SOURCE=cpu-index PYTHON=python deploy/docker/install-python-deps.sh /wheels /opt/venv \
    && rm -rf /wheels

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

# Model weights are not in the image unless asked for: mount them at BUYHIVE_MODEL_DIR
# (/models), or build with BAKE_MODELS=1 to fetch the CLIP weights here (needs internet).
ARG BAKE_MODELS=0
RUN if [ "$BAKE_MODELS" = "1" ]; then \
        set -a && . deploy/docker/build.env && set +a \
        && SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
        && export SECRET_KEY \
        && HF_HUB_OFFLINE=0 python manage.py download_models \
        && chown -R buyhive:buyhive /models; \
    fi

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
