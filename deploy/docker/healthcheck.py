"""Container health probe: GET http://127.0.0.1:$PORT/health, exit 0 on a 200.

The image's HEALTHCHECK and the ECS task definition's health check run it. Standard library
only: the slim image has no curl. The probe speaks plain HTTP to loopback, which the
production settings accept: ``/health`` is exempt from the SSL redirect, and the container's
own addresses are allowed hosts (``ALLOWED_HOSTS_LOCAL_IPS``, on by default). With that
turned off, the probe names the first ``ALLOWED_HOSTS`` entry as its Host instead.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

# django-environ's true values: anything else turns the setting off.
_TRUE = {"true", "on", "ok", "y", "yes", "1"}


def probe_host() -> str | None:
    """The Host header to send, or None for urllib's default (127.0.0.1:PORT)."""
    if os.environ.get("ALLOWED_HOSTS_LOCAL_IPS", "true").strip().lower() in _TRUE:
        return None
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    for host in hosts:
        if host != "*":
            return host.lstrip(".")
    return None


def main() -> int:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/health")
    host = probe_host()
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 - fixed URL
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        sys.stderr.write(f"healthcheck: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
