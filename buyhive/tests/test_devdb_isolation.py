"""The production code path never imports the development database tooling (buyhive.devdb).

``buyhive/devdb/`` and SecantusDB are left out of the production image (``.dockerignore``,
``requirements/embedded-db.txt``), so anything the production settings load must work
without them. Checked in a subprocess with the production settings module, as the image
runs it.
"""

from __future__ import annotations

import json

from buyhive.tests.test_production_settings import production_env, run_python

LOAD_EVERYTHING = """
    import importlib
    import importlib.util
    import json
    import sys

    import django
    from django.core.management import get_commands, load_command_class
    from django.urls import get_resolver

    django.setup()  # runs every AppConfig.ready() and the admin's autodiscover
    import buyhive.wsgi  # noqa: F401 - what gunicorn imports
    import buyhive.asgi  # noqa: F401

    get_resolver().url_patterns  # the whole URLconf, every app's urls and views
    for app in ("buyhive", "accounts", "carts", "extraction", "mlverify"):
        for part in ("models", "urls", "admin", "apis", "views", "services", "selectors",
                     "health", "errors", "middleware"):
            name = f"{app}.{part}"
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
    for command, app in get_commands().items():  # every `manage.py <command>` module
        load_command_class(app, command)

    print(json.dumps(sorted(
        name for name in sys.modules
        if name.startswith("buyhive.devdb") or name.split(".")[0] == "secantus"
    )))
"""


def test_production_settings_never_import_the_development_database_tooling() -> None:
    result = run_python(LOAD_EVERYTHING, production_env(), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == []


def test_the_check_sees_an_import_of_the_tooling() -> None:
    """The same check, with one import added, does report it (the test can fail)."""
    code = LOAD_EVERYTHING.replace(
        "    print(json.dumps(",
        "    import buyhive.devdb.common  # noqa: F401\n    print(json.dumps(",
        1,
    )
    result = run_python(code, production_env(), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "buyhive.devdb.common" in json.loads(result.stdout.strip().splitlines()[-1])
