"""The embedded database launcher and its ``$addFields`` fix, against real SecantusDB servers.

Every server here runs on a free port with its data in ``tmp_path`` (or in memory), never on
``var/`` or port 27018, so a developer's running server is left alone.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from buyhive.devdb import addfields
from buyhive.devdb.common import REPO_ROOT, EmbeddedDBError
from buyhive.devdb.supervisor import ensure_running, status, stop
from buyhive.devdb.testserver import EphemeralServer, start_ephemeral

Doc = dict[str, Any]
CollectionFactory = Callable[[str], Collection[Doc]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pid_in(pid_file: Path) -> int:
    return int(pid_file.read_text())


@pytest.fixture(scope="module")
def patched_server() -> Iterator[EphemeralServer]:
    """The server as the project runs it: ``python -m buyhive.devdb serve``."""
    with start_ephemeral() as server:
        yield server


@pytest.fixture(scope="module")
def stock_server() -> Iterator[EphemeralServer]:
    """SecantusDB as shipped: the same entry point with ``--no-patch``."""
    with start_ephemeral(patch_addfields=False) as server:
        yield server


@pytest.fixture
def clients() -> Iterator[Callable[[str], MongoClient[Doc]]]:
    opened: list[MongoClient[Doc]] = []

    def connect(uri: str) -> MongoClient[Doc]:
        client: MongoClient[Doc] = MongoClient(uri, serverSelectionTimeoutMS=5000)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()


@pytest.fixture
def patched(
    patched_server: EphemeralServer,
    clients: Callable[[str], MongoClient[Doc]],
    request: pytest.FixtureRequest,
) -> CollectionFactory:
    """A fresh collection on the patched server, named after the test."""
    db = clients(patched_server.uri)["addfields"]

    def collection(name: str) -> Collection[Doc]:
        coll = db[f"{request.node.name}_{name}"]
        coll.drop()
        return coll

    return collection


# --------------------------------------------------------------------------------------------
# $addFields: the patched server merges like mongod
# --------------------------------------------------------------------------------------------


@pytest.mark.secantusdb_quirk
def test_addfields_merges_a_nested_document_into_the_embedded_document(
    patched: CollectionFactory,
) -> None:
    coll = patched("c")
    coll.insert_one({"_id": 1, "sub": {"a": 1}})

    assert list(coll.aggregate([{"$addFields": {"sub": {"b": 2}}}])) == [
        {"_id": 1, "sub": {"a": 1, "b": 2}}
    ]
    # $set is $addFields under another name.
    assert list(coll.aggregate([{"$set": {"sub": {"b": 2}}}])) == [
        {"_id": 1, "sub": {"a": 1, "b": 2}}
    ]


@pytest.mark.secantusdb_quirk
def test_addfields_evaluates_expressions_inside_a_nested_document(
    patched: CollectionFactory,
) -> None:
    coll = patched("c")
    coll.insert_one({"_id": 1, "x": 5, "sub": {"a": 1, "deep": {"k": 0}, "gone": True}})

    pipeline: list[Doc] = [
        {
            "$addFields": {
                "sub": {
                    "b": {"$add": ["$x", 1]},
                    "a": {"$multiply": ["$sub.a", 10]},  # reads the input document
                    "deep": {"j": "$x"},  # merged two levels down
                    "gone": "$$REMOVE",  # a missing value removes the field
                }
            }
        }
    ]
    assert list(coll.aggregate(pipeline)) == [
        {"_id": 1, "x": 5, "sub": {"a": 10, "deep": {"k": 0, "j": 5}, "b": 6}}
    ]


@pytest.mark.secantusdb_quirk
def test_addfields_nested_document_on_arrays_scalars_and_missing_fields_follows_mongod(
    patched: CollectionFactory,
) -> None:
    coll = patched("c")
    coll.insert_one({"_id": 1, "x": 5, "arr": [{"a": 1}, {"a": 2}], "scalar": 3})

    pipeline: list[Doc] = [
        {"$addFields": {"arr": {"c": "$x"}, "scalar": {"d": 1}, "new": {"e": {"f": "$x"}}}}
    ]
    assert list(coll.aggregate(pipeline)) == [
        {
            "_id": 1,
            "x": 5,
            "arr": [{"a": 1, "c": 5}, {"a": 2, "c": 5}],  # applied to every element
            "scalar": {"d": 1},  # a non-document is replaced
            "new": {"e": {"f": 5}},  # a missing field is created
        }
    ]


def _permission_with_content_type_pipeline() -> list[Doc]:
    """The stages django-mongodb-backend builds for
    ``Permission.objects.select_related("content_type").order_by("content_type__app_label")``:
    join, then ``$addFields`` of the ordering column into the joined document, then sort."""
    return [
        {
            "$lookup": {
                "from": "django_content_type",
                "localField": "content_type_id",
                "foreignField": "_id",
                "as": "django_content_type",
            }
        },
        {"$unwind": "$django_content_type"},
        {"$addFields": {"django_content_type": {"app_label": "$django_content_type.app_label"}}},
        {"$sort": {"django_content_type.app_label": 1, "_id": 1}},
    ]


def _seed_permissions(db: Any) -> None:
    db.django_content_type.drop()
    db.auth_permission.drop()
    db.django_content_type.insert_one({"_id": 10, "app_label": "carts", "model": "cart"})
    db.auth_permission.insert_one({"_id": 1, "codename": "add_cart", "content_type_id": 10})


@pytest.mark.secantusdb_quirk
def test_select_related_with_related_ordering_keeps_the_joined_document(
    patched_server: EphemeralServer, clients: Callable[[str], MongoClient[Doc]]
) -> None:
    db = clients(patched_server.uri)["select_related_patched"]
    _seed_permissions(db)

    rows = list(db.auth_permission.aggregate(_permission_with_content_type_pipeline()))

    assert rows[0]["django_content_type"] == {"_id": 10, "app_label": "carts", "model": "cart"}


@pytest.mark.secantusdb_quirk
def test_stock_secantus_replaces_the_embedded_document_which_is_why_we_patch(
    stock_server: EphemeralServer, clients: Callable[[str], MongoClient[Doc]]
) -> None:
    """Pins the upstream bug the patch exists for (SecantusDB 0.7.0b3).

    If this fails after a SecantusDB upgrade, upstream now merges like mongod: drop
    ``apply_addfields_patch`` and this test.
    """
    db = clients(stock_server.uri)["select_related_stock"]
    db.c.drop()
    db.c.insert_one({"_id": 1, "sub": {"a": 1}})
    _seed_permissions(db)

    assert list(db.c.aggregate([{"$addFields": {"sub": {"b": 2}}}])) == [
        {"_id": 1, "sub": {"b": 2}}
    ]
    rows = list(db.auth_permission.aggregate(_permission_with_content_type_pipeline()))
    # The joined content type lost its _id and model: Django then finds no related object.
    assert rows[0]["django_content_type"] == {"app_label": "carts"}


@pytest.mark.secantusdb_quirk
def test_apply_addfields_patch_is_idempotent() -> None:
    from secantus import aggregate

    assert addfields.apply_addfields_patch() is True
    patched_function = aggregate._add_fields_one
    assert addfields.apply_addfields_patch() is True
    assert aggregate._add_fields_one is patched_function
    assert patched_function({"sub": {"a": 1}}, {"sub": {"b": 2}}, {}) == {"sub": {"a": 1, "b": 2}}


@pytest.mark.secantusdb_quirk
def test_apply_addfields_patch_skips_another_secantus_version_without_crashing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import secantus
    from secantus import aggregate

    addfields.apply_addfields_patch()
    stock_function = aggregate._add_fields_one.__wrapped__
    monkeypatch.setattr(aggregate, "_add_fields_one", stock_function)
    monkeypatch.setattr(secantus, "__version__", "0.8.0")

    assert addfields.apply_addfields_patch() is False
    assert aggregate._add_fields_one is stock_function


@pytest.mark.secantusdb_quirk
def test_inprocess_ephemeral_server_is_patched_too() -> None:
    with (
        start_ephemeral(mode="inprocess") as server,
        MongoClient(server.uri, serverSelectionTimeoutMS=5000) as client,
    ):
        coll = client["inproc"]["c"]
        coll.insert_one({"_id": 1, "sub": {"a": 1}})
        assert list(coll.aggregate([{"$addFields": {"sub": {"b": 2}}}])) == [
            {"_id": 1, "sub": {"a": 1, "b": 2}}
        ]


# --------------------------------------------------------------------------------------------
# Transactions (the server presents itself as a one-member replica set)
# --------------------------------------------------------------------------------------------


def test_transactions_commit_and_abort(
    patched_server: EphemeralServer, clients: Callable[[str], MongoClient[Doc]]
) -> None:
    client = clients(patched_server.uri)
    coll = client["txn"]["c"]
    coll.drop()
    coll.insert_one({"_id": "seed"})  # the collection exists before the transactions

    with client.start_session() as session:
        session.start_transaction()
        coll.insert_one({"_id": "committed"}, session=session)
        # Not visible outside the transaction before the commit.
        assert coll.find_one({"_id": "committed"}) is None
        session.commit_transaction()
    assert coll.find_one({"_id": "committed"}) == {"_id": "committed"}

    with client.start_session() as session:
        session.start_transaction()
        coll.insert_one({"_id": "aborted"}, session=session)
        assert coll.find_one({"_id": "aborted"}, session=session) == {"_id": "aborted"}
        session.abort_transaction()
    assert coll.find_one({"_id": "aborted"}) is None


# --------------------------------------------------------------------------------------------
# The developer's server: ensure_running / stop / status
# --------------------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory in tmp_path; whatever server a test left running is stopped."""
    path = tmp_path / "var" / "db"
    yield path
    stop(data_dir=path)


def test_ensure_running_twice_reuses_the_server_and_stop_is_idempotent(data_dir: Path) -> None:
    port = _free_port()
    pid_file = data_dir.parent / "embedded-db.pid"

    uri = ensure_running(data_dir=data_dir, port=port)
    pid = _pid_in(pid_file)
    assert uri == f"mongodb://127.0.0.1:{port}/?directConnection=true"
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        assert client.admin.command("ping")["ok"] == 1
    assert (data_dir.parent / "embedded-db.log").exists()

    assert ensure_running(data_dir=data_dir, port=port) == uri
    assert _pid_in(pid_file) == pid
    state = status(data_dir=data_dir)
    assert (state.running, state.pid, state.uri) == (True, pid, uri)

    assert stop(data_dir=data_dir) is True
    assert not psutil.pid_exists(pid)
    assert not pid_file.exists()
    assert stop(data_dir=data_dir) is False
    assert status(data_dir=data_dir).running is False


def test_data_persists_across_stop_and_start(
    data_dir: Path, clients: Callable[[str], MongoClient[Doc]]
) -> None:
    port = _free_port()
    uri = ensure_running(data_dir=data_dir, port=port)
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        client["buyhive"]["carts"].insert_one({"_id": "c1", "name": "Gifts"})
    stop(data_dir=data_dir)

    uri = ensure_running(data_dir=data_dir, port=port)

    assert clients(uri)["buyhive"]["carts"].find_one({"_id": "c1"}) == {
        "_id": "c1",
        "name": "Gifts",
    }


def test_stale_pid_file_of_a_dead_process_is_replaced(data_dir: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pid_file = data_dir.parent / "embedded-db.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{dead.pid}\n")

    ensure_running(data_dir=data_dir, port=_free_port())

    new_pid = _pid_in(pid_file)
    assert new_pid != dead.pid
    assert status(data_dir=data_dir).running is True


def test_pid_file_naming_another_program_is_not_trusted_nor_killed(data_dir: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid_file = data_dir.parent / "embedded-db.pid"
        pid_file.parent.mkdir(parents=True)
        pid_file.write_text(f"{other.pid}\n")
        assert status(data_dir=data_dir).running is False

        ensure_running(data_dir=data_dir, port=_free_port())

        assert _pid_in(pid_file) != other.pid
        assert stop(data_dir=data_dir) is True

        pid_file.write_text(f"{other.pid}\n")
        assert stop(data_dir=data_dir) is False
        assert not pid_file.exists()
        assert other.poll() is None  # the other program still runs
    finally:
        other.kill()
        other.wait()


def test_port_held_by_another_program_is_a_clear_error(data_dir: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        with pytest.raises(EmbeddedDBError, match=f"Port 127.0.0.1:{port} is in use"):
            ensure_running(data_dir=data_dir, port=port)

    assert not (data_dir.parent / "embedded-db.pid").exists()


def test_ephemeral_server_stop_ends_the_process_and_is_idempotent() -> None:
    server = start_ephemeral()
    pid = server.pid
    assert pid is not None
    assert psutil.pid_exists(pid)

    server.stop()
    server.stop()

    assert not psutil.pid_exists(pid)


# --------------------------------------------------------------------------------------------
# `manage.py embedded_db`, in a subprocess with minimal settings (it needs no database)
# --------------------------------------------------------------------------------------------


def test_management_command_starts_reports_and_stops_the_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "var" / "db"
    script = textwrap.dedent(
        f"""
        import sys

        import django
        import structlog
        from django.conf import settings
        from django.core.management import call_command
        from django.core.management.base import CommandError

        settings.configure(
            INSTALLED_APPS=["buyhive.apps.BuyHiveConfig"],
            EMBEDDED_DB_DIR={str(data_dir)!r},
            EMBEDDED_DB_HOST="127.0.0.1",
            EMBEDDED_DB_PORT={_free_port()},
        )
        django.setup()
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
        for action in ("start", "uri", "status", "stop", "status"):
            call_command("embedded_db", action)
        try:
            call_command("embedded_db", "uri")
        except CommandError as exc:
            print("error:", exc)
        """
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    uri = lines[0]
    assert uri.startswith("mongodb://127.0.0.1:")
    assert uri.endswith("/?directConnection=true")
    assert lines[1] == uri
    assert lines[2].startswith("running, pid ")
    assert lines[3] == "stopped"
    assert lines[4].startswith("not running")
    assert lines[5] == "error: The embedded database is not running; start it first."
