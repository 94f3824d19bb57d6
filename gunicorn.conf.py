"""gunicorn configuration for the Docker image (``gunicorn -c gunicorn.conf.py``).

Everything that differs between a laptop, staging and production is read from the
environment, so the image is the same everywhere (see docs/deploy.md for the values):

=============================  ===========  ==================================================
variable                       default      what
=============================  ===========  ==================================================
``PORT``                       8000         port to listen on
``BIND_HOST``                  0.0.0.0      address to listen on (tests and image-check: 127.0.0.1)
``WEB_CONCURRENCY``            2            worker processes; each may hold CLIP (~1.5 GB)
``GUNICORN_WORKER_CLASS``      gthread      gthread (WSGI, the default) or uvicorn (ASGI)
``GUNICORN_THREADS``           4            gthread: requests one worker serves at once
``GUNICORN_WORKER_CONNECTIONS``  100        connections one worker holds (gthread), or
                                            requests in flight (uvicorn's limit_concurrency)
``GUNICORN_TIMEOUT``           60           seconds a silent worker lives before it is killed
``GUNICORN_GRACEFUL_TIMEOUT``  25           seconds in-flight requests get after SIGTERM
``GUNICORN_KEEPALIVE``         75           idle keep-alive seconds; must exceed the ALB's 60
``GUNICORN_MAX_REQUESTS``      0            recycle a worker after N requests (0: never)
``GUNICORN_MAX_REQUESTS_JITTER``  0         random extra requests, so workers don't recycle at once
``FORWARDED_ALLOW_IPS``        127.0.0.1,::1  peers whose X-Forwarded-* headers are believed
``LOG_LEVEL``                  INFO         gunicorn's own log level
``LOG_FORMAT``                 json         json (CloudWatch) or console
=============================  ===========  ==================================================

Why these choices:

* gthread workers serve ``buyhive.wsgi:application``, through
  ``buyhive.gunicorn_workers.DrainingThreadWorker`` (docs/scaling.md, "The web worker class",
  has the measurements). Measured against uvicorn workers on the development machine, the two
  alternated in one session after the per-cart read model and our ASGI handler: on the cart
  read gthread served 1.5x uvicorn's requests (6.1 against 9.2 ms of app CPU per request), on
  bench/load.py's mix 1.1x, with p95 341-359 ms against 471-479 ms and 19-20 ms of worker CPU
  per request against 25 ms. The API has no async view, so the ASGI path only adds the hand-off
  between the event loop and each request's thread (~2.5 ms per request, docs/scaling.md "The
  per-request floor"). The concurrency is bounded by ``threads`` (requests in flight per
  worker); a request waiting 3 s on the LLM did not hold up a cart list on one 4-thread worker
  (20 ms median, bench/slow_neighbour.py). ``GUNICORN_WORKER_CLASS=uvicorn`` keeps the ASGI
  path (``BoundedUvicornWorker``: ``worker_connections`` becomes uvicorn's
  ``limit_concurrency``, 503 past it; the body limits hold there too).
* No ``preload_app``: pymongo's ``MongoClient`` is not fork-safe, so Django (and the client)
  must be created in each worker after the fork. Models load lazily in each worker too.
* ``graceful_timeout`` (25 s) is shorter than the ECS ``stopTimeout`` (35 s in
  deploy/aws/service.yaml): on SIGTERM gunicorn stops accepting, lets in-flight requests
  finish, and exits 0 before ECS would SIGKILL it.
* ``keepalive`` (75 s) is longer than the ALB's idle timeout (60 s): the load balancer, not
  us, closes idle connections, so it never sends a request on a socket we just closed (502).
* ``forwarded_allow_ips``: behind the ALB set it to the VPC's CIDR (the task definition
  does), never ``*``: with ``*`` uvicorn takes the *left-most* X-Forwarded-For entry, which the
  client controls (and gthread would believe anyone's ``X-Forwarded-Proto``). Django itself
  trusts ``X-Forwarded-Proto`` through ``SECURE_PROXY_SSL_HEADER`` and resolves the client IP
  with ``TRUSTED_PROXY_COUNT`` from ``X-Forwarded-For``, the same under either class.
* No access log: django-structlog writes one JSON line per request (request id, user,
  status, duration). gunicorn's own lines go to stdout as JSON too; logs are never written to
  files in the container (CloudWatch keeps them, with the log group's retention).
"""

from __future__ import annotations

import os
from pathlib import Path


def _int_env(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise RuntimeError(f"{name} must be at least {minimum}, got {value}")
    return value


def _log_config() -> dict:
    """gunicorn's loggers on stdout through the project's structured formatter."""
    from buyhive import logconfig

    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    config = logconfig.configure(level=level, json=os.environ.get("LOG_FORMAT", "json") == "json")
    for handler in config.get("handlers", {}).values():
        if handler.get("class") == "logging.StreamHandler":
            handler.setdefault("stream", "ext://sys.stdout")  # the default would be stderr
    loggers = config.setdefault("loggers", {})
    loggers["gunicorn.error"] = {"handlers": ["stdout"], "level": level, "propagate": False}
    # Access lines come from django-structlog; gunicorn's are off (accesslog = None).
    loggers["gunicorn.access"] = {"handlers": [], "level": "CRITICAL", "propagate": False}
    return config


#: GUNICORN_WORKER_CLASS -> (gunicorn worker class, application). gthread is the default.
WORKER_CLASSES = {
    "gthread": ("buyhive.gunicorn_workers.DrainingThreadWorker", "buyhive.wsgi:application"),
    "uvicorn": ("buyhive.gunicorn_workers.BoundedUvicornWorker", "buyhive.asgi:application"),
}
_kind = os.environ.get("GUNICORN_WORKER_CLASS", "").strip() or "gthread"
if _kind not in WORKER_CLASSES:
    raise RuntimeError(
        f"GUNICORN_WORKER_CLASS must be one of {sorted(WORKER_CLASSES)}, got {_kind!r}"
    )
worker_class, wsgi_app = WORKER_CLASSES[_kind]
threads = _int_env("GUNICORN_THREADS", 4, minimum=1)
worker_connections = _int_env("GUNICORN_WORKER_CONNECTIONS", 100, minimum=1)
bind = [f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{_int_env('PORT', 8000, minimum=1)}"]  # noqa: S104 - a container listens on all interfaces
workers = _int_env("WEB_CONCURRENCY", 2, minimum=1)
preload_app = False
timeout = _int_env("GUNICORN_TIMEOUT", 60, minimum=1)
graceful_timeout = _int_env("GUNICORN_GRACEFUL_TIMEOUT", 25, minimum=1)
keepalive = _int_env("GUNICORN_KEEPALIVE", 75, minimum=1)
max_requests = _int_env("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int_env("GUNICORN_MAX_REQUESTS_JITTER", 0)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "buyhive"
# gunicorn's control socket (gunicornc) is off: nobody manages a task by hand, and two servers
# on one machine (tests, image-check) would fight over the same $HOME/.gunicorn/gunicorn.ctl.
control_socket_disable = True

# The heartbeat file lives in memory: on overlay filesystems a write can stall a worker.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 - not a temp file

accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
logconfig_dict = _log_config()


def post_worker_init(worker: object) -> None:
    """Warm the models in the background once this worker has loaded Django: no request pays
    for a load, and /ready says "warming" until they are (mlverify/warmup.py)."""
    from mlverify.warmup import start_warmup

    start_warmup()
