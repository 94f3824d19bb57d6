"""The authenticated user comes from a short cache, and every cut of access still works.

The cache (``accounts.auth_cache``) saves the one database command per request that reading
the user costs. What must hold: a save of the user (deactivation, password change) and a
revocation of all sessions are seen by the very next request; a change that bypasses both
(a raw update) is seen once the entry expires (``AUTH_USER_CACHE_SECONDS``, 60 s in
production, 1 s here). Each process also keeps the users it read for a few seconds
(``AUTH_USER_LOCAL_SECONDS``): a write is seen at once by the process that made it, by the
others within those seconds, and never later than the shared entry would have expired.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import override_settings

from accounts import services
from accounts.models import User
from accounts.tokens import revoke_all_for_user
from carts.tests.mongo_commands import listening

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"


def _user_reads(auth_client: Any) -> tuple[int, int]:
    with listening() as recorder:
        response = auth_client.get(ME)
        return response.status_code, len(recorder.on({"accounts_user"}))


def test_second_request_reads_the_user_from_the_cache(auth_client: Any, user: User) -> None:
    assert _user_reads(auth_client)[0] == 200
    status, reads = _user_reads(auth_client)
    assert status == 200
    assert reads == 0


def test_deactivation_is_seen_by_the_next_request(auth_client: Any, user: User) -> None:
    assert auth_client.get(ME).status_code == 200  # now cached
    services.user_deactivate(user=user)
    response = auth_client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"token_invalid", "not_authenticated"}


def test_password_change_is_seen_by_the_next_request(auth_client: Any, user: User) -> None:
    assert auth_client.get(ME).status_code == 200
    user.set_password("another-Secret-123")
    user.save(update_fields=["password"])
    assert auth_client.get(ME).status_code == 401


def test_password_reset_by_raw_update_is_seen_through_the_revocation(
    auth_client: Any, user: User
) -> None:
    """The reset writes the password with ``update()`` (no signal), then revokes all."""
    assert auth_client.get(ME).status_code == 200
    user.set_password("another-Secret-123")
    User.objects.filter(pk=user.pk).update(password=user.password)
    revoke_all_for_user(user)
    assert auth_client.get(ME).status_code == 401


@override_settings(AUTH_USER_CACHE_SECONDS=1)
def test_a_change_no_write_path_announces_is_seen_when_the_entry_expires(
    auth_client: Any, user: User
) -> None:
    assert auth_client.get(ME).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)  # bypasses every hook
    assert auth_client.get(ME).status_code == 200  # still the cached copy
    time.sleep(1.2)
    assert auth_client.get(ME).status_code == 401


@override_settings(AUTH_USER_CACHE_SECONDS=0, AUTH_USER_LOCAL_SECONDS=0)
def test_cache_can_be_turned_off(auth_client: Any, user: User) -> None:
    assert _user_reads(auth_client)[0] == 200
    assert _user_reads(auth_client)[1] == 1


def _cached_bytes(user: User) -> bytes:
    """Every byte Redis holds for ``user``'s cache entries (keys under the user's id)."""
    from django_redis import get_redis_connection

    redis = get_redis_connection("default")
    chunks = [redis.get(key) or b"" for key in redis.scan_iter(f"*auth:user:{user.pk}:*")]
    assert chunks, "the user was not cached"
    return b"".join(chunks)


def test_the_cache_holds_no_password_hash(auth_client: Any, user: User) -> None:
    """Only the projection (``CACHED_FIELDS``) and the revocation digest are stored."""
    assert auth_client.get(ME).status_code == 200
    user.refresh_from_db()
    stored = _cached_bytes(user)
    assert user.password and user.password.encode() not in stored
    # Not even a piece of it: the hash's salt and digest parts are absent too.
    for part in user.password.split("$")[1:]:
        assert part.encode() not in stored
    assert user.email.encode() in stored  # the projection is there


def test_a_cached_user_is_a_projection_that_cannot_overwrite_the_password(
    auth_client: Any, user: User
) -> None:
    from accounts.auth_cache import CACHED_FIELDS, cached_user

    assert auth_client.get(ME).status_code == 200
    hit, _version = cached_user(user.pk)
    assert hit is not None
    cached = hit.user
    assert cached.pk == user.pk and cached.email == user.email
    assert cached.get_deferred_fields() == {"password", "last_login"}
    assert set(CACHED_FIELDS) >= {"id", "email", "is_active", "is_staff", "is_superuser"}
    # A save of the cached instance writes the loaded fields only: the password stays.
    before = User.objects.get(pk=user.pk).password
    cached.name = "Renamed"
    cached.save()
    after = User.objects.get(pk=user.pk)
    assert after.password == before and after.name == "Renamed"
    assert auth_client.get(ME).status_code == 200  # the token is still valid


def test_a_copy_read_before_a_write_and_stored_after_it_is_never_served(
    auth_client: Any, user: User
) -> None:
    """The race the version is for: a request reads the user, the user is deactivated, then
    that request stores its (active) copy. The copy names the version it was read under, and
    the entry and the version are read together, so the next request reads the user afresh."""
    from accounts.auth_cache import cached_user, remember_user

    assert auth_client.get(ME).status_code == 200
    _hit, version_before = cached_user(user.pk)
    stale = User.objects.get(pk=user.pk)  # what the slow request read
    services.user_deactivate(user=user)  # the write: a new version
    remember_user(stale, version_before)  # the slow request stores its copy afterwards
    hit, version_now = cached_user(user.pk)
    assert hit is None and version_now != version_before
    response = auth_client.get(ME)
    assert response.status_code == 401
    # The fresh read under the new version is the one served from then on.
    fresh = User.objects.get(pk=user.pk)
    remember_user(fresh, version_now)
    hit, _version = cached_user(user.pk)
    assert hit is not None and hit.user.is_active is False


# -- the per-process layer ------------------------------------------------------------------
def _another_process_cuts_access(user: User) -> None:
    """What a write in another worker process leaves behind: the row changed, and a new
    version in Redis (its ``forget_user``); this process's own copy is untouched."""
    from django.core.cache import cache

    from accounts import auth_cache

    User.objects.filter(pk=user.pk).update(is_active=False)
    cache.set(auth_cache._version_key(user.pk), "written-elsewhere", 3600)


def test_the_process_serves_its_copy_without_asking_redis(auth_client: Any, user: User) -> None:
    from django.core.cache import cache

    assert auth_client.get(ME).status_code == 200
    cache.delete_pattern("*")  # type: ignore[attr-defined]  # no shared entry, no version
    status, reads = _user_reads(auth_client)
    assert (status, reads) == (200, 0)
    assert cache.keys("*auth:*") == []  # type: ignore[attr-defined]  # nor written back


def test_a_write_in_another_process_is_seen_once_the_local_seconds_pass(
    auth_client: Any, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accounts import auth_cache

    assert auth_client.get(ME).status_code == 200
    _another_process_cuts_access(user)
    assert auth_client.get(ME).status_code == 200  # this process's copy, for a few seconds
    later = time.time() + auth_cache._local_ttl()
    monkeypatch.setattr(auth_cache, "_now", lambda: later)
    response = auth_client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"token_invalid", "not_authenticated"}


def test_a_write_in_this_process_is_seen_by_its_next_request(auth_client: Any, user: User) -> None:
    assert auth_client.get(ME).status_code == 200
    assert auth_client.get(ME).status_code == 200  # now from the local copy
    services.user_deactivate(user=user)
    assert auth_client.get(ME).status_code == 401


@override_settings(AUTH_USER_CACHE_SECONDS=1, AUTH_USER_LOCAL_SECONDS=30)
def test_a_local_copy_never_outlives_the_shared_entry_from_the_database_read(
    auth_client: Any, user: User
) -> None:
    assert auth_client.get(ME).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)  # bypasses every hook
    assert auth_client.get(ME).status_code == 200
    time.sleep(1.2)  # the shared entry is gone, and the local copy (30 s) with it
    assert auth_client.get(ME).status_code == 401


@override_settings(AUTH_USER_CACHE_SECONDS=0)
def test_without_the_shared_cache_the_process_still_spares_the_read(
    auth_client: Any, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The low-cost stack (``CACHE_BACKEND=mongodb``): no shared layer, the local one alone."""
    from accounts import auth_cache

    assert _user_reads(auth_client) == (200, 1)
    assert _user_reads(auth_client) == (200, 0)
    User.objects.filter(pk=user.pk).update(is_active=False)
    later = time.time() + auth_cache._local_ttl()
    monkeypatch.setattr(auth_cache, "_now", lambda: later)
    assert _user_reads(auth_client) == (401, 1)


def test_a_copy_read_before_a_write_in_this_process_is_not_kept(user: User) -> None:
    from accounts.auth_cache import local_epoch, local_user, remember_user

    epoch = local_epoch()
    stale = User.objects.get(pk=user.pk)  # what a slow request read
    services.user_deactivate(user=user)  # the write, in this process
    remember_user(stale, None, epoch)  # the slow request keeps its copy afterwards
    assert local_user(user.pk) is None
    remember_user(User.objects.get(pk=user.pk), None, local_epoch())
    kept = local_user(user.pk)
    assert kept is not None and kept.user.is_active is False


def test_each_request_gets_its_own_user_instance(auth_client: Any, user: User) -> None:
    from accounts.auth_cache import local_user

    assert auth_client.get(ME).status_code == 200
    first, second = local_user(user.pk), local_user(user.pk)
    assert first is not None and second is not None
    first.user.name = "Changed by one request"
    assert second.user.name == "Alice" and first.user is not second.user


def test_the_process_keeps_a_bounded_number_of_users(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accounts import auth_cache
    from accounts.tests.factories import UserFactory

    monkeypatch.setattr(auth_cache, "LOCAL_MAX_USERS", 3)
    users = [UserFactory(email=f"u{n}@example.com") for n in range(5)]
    for one in users:
        auth_cache.remember_user(one, None, auth_cache.local_epoch())
    assert len(auth_cache._local) == 3
    assert [auth_cache.local_user(one.pk) is not None for one in users] == [
        False, False, True, True, True
    ]  # fmt: skip
