"""The ``$and`` flattening: same answers, and the embedded server then uses the index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bson import ObjectId
from pymongo import MongoClient

from buyhive.devdb.planner import flatten_and
from buyhive.devdb.testserver import start_ephemeral

# SecantusDB's planner scans on a top-level $and (README, "SecantusDB and MongoDB").
pytestmark = pytest.mark.secantusdb_quirk


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"$and": [{"a": 1}, {"b": {"$in": [1, 2]}}]}, {"a": 1, "b": {"$in": [1, 2]}}),
        ({"c": 3, "$and": [{"a": 1}]}, {"c": 3, "a": 1}),
        ({"$and": [{"a": 1}, {"a": 2}]}, {"a": 1, "$and": [{"a": 2}]}),  # repeated field kept
        (
            {"$and": [{"a": 1}, {"$or": [{"b": 1}, {"c": 1}]}]},
            {"a": 1, "$and": [{"$or": [{"b": 1}, {"c": 1}]}]},
        ),
        ({"$and": [{"$and": [{"a": 1}, {"b": 2}]}, {"c": 3}]}, {"a": 1, "b": 2, "c": 3}),
        ({"a": 1}, {"a": 1}),
        ({"$and": "not a list"}, {"$and": "not a list"}),
        (None, None),
    ],
)
def test_flatten_and_merges_only_what_is_safe(query: object, expected: object) -> None:
    assert flatten_and(query) == expected


@pytest.fixture(scope="module")
def collection() -> Iterator[object]:
    server = start_ephemeral()
    client: MongoClient = MongoClient(server.uri, serverSelectionTimeoutMS=5000)
    coll = client["planner_test"]["items"]
    owner, other = ObjectId(), ObjectId()
    coll.insert_many([{"owner_id": other, "n": i} for i in range(3000)])
    mine = coll.insert_many([{"owner_id": owner, "n": i} for i in range(20)]).inserted_ids
    coll.create_index("owner_id")
    coll.owner, coll.mine = owner, mine  # type: ignore[attr-defined]
    try:
        yield coll
    finally:
        client.close()
        server.stop()


def test_and_and_flat_filters_give_the_same_documents(collection: object) -> None:
    coll = collection
    owner, mine = coll.owner, coll.mine  # type: ignore[attr-defined]
    pairs = [
        ({"$and": [{"owner_id": owner}, {"n": {"$lt": 5}}]}, {"owner_id": owner, "n": {"$lt": 5}}),
        ({"$and": [{"owner_id": owner}, {"_id": {"$in": mine[:3]}}]}, {"_id": {"$in": mine[:3]}}),
        ({"$and": [{"n": 1}, {"n": {"$gt": 0}}]}, {"n": 1}),
    ]
    for anded, flat in pairs:
        got = sorted(d["_id"] for d in coll.find(anded))  # type: ignore[attr-defined]
        want = sorted(d["_id"] for d in coll.find(flat))  # type: ignore[attr-defined]
        assert got == want and got


def test_the_patch_hands_the_flattened_filter_to_every_planner_entry_point() -> None:
    from secantus.storage import Storage

    from buyhive.devdb.planner import PLANNED_METHODS, _wrap, apply_flatten_and_patch

    assert apply_flatten_and_patch() is True
    assert apply_flatten_and_patch() is True  # idempotent: not wrapped twice
    for name in PLANNED_METHODS:
        method = getattr(Storage, name)
        assert getattr(method, "_buyhive_flatten_and", False)
        assert not getattr(method.__wrapped__, "_buyhive_flatten_and", False)

    seen: list[object] = []

    def planner(self: object, db: str, coll: str, filter: object = None, **kw: object) -> None:  # noqa: A002
        seen.append(filter)

    _wrap(planner)(None, "db", "coll", {"$and": [{"a": 1}, {"b": 2}]})
    assert seen == [{"a": 1, "b": 2}]
