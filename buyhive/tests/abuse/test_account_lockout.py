"""Findings 6 (second half) and 7: one reset link changes the password once; nobody can lock
the owner out of sign-in or of the password reset from another address."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import password_reset_uid
from buyhive.ratelimit import FailureThrottle

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN = "/api/v1/auth/login/"
RESET = "/api/v1/auth/password/reset/"
CONFIRM = "/api/v1/auth/password/reset/confirm/"
ATTACKER = "203.0.113.66"
OWNER_ELSEWHERE = "198.51.100.20"


def _login(email: str, password: str, ip: str) -> Any:
    body = {"email": email, "password": password}
    return APIClient().post(LOGIN, body, format="json", REMOTE_ADDR=ip)


# --------------------------------------------------------------------------- reset link race


def test_ten_parallel_confirmations_of_one_link_change_the_password_once(user: User) -> None:
    uid = password_reset_uid(user)
    token = default_token_generator.make_token(user)
    barrier = threading.Barrier(10)
    statuses: list[int] = []
    lock = threading.Lock()

    def confirm(n: int) -> None:
        client = APIClient()
        body = {"uid": uid, "token": token, "new_password": f"a brand new password {n}"}
        barrier.wait()
        response = client.post(CONFIRM, body, format="json", REMOTE_ADDR=f"192.0.2.{n + 1}")
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=confirm, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [204] + [400] * 9, statuses
    # Exactly one of the ten passwords works.
    user.refresh_from_db()
    assert sum(user.check_password(f"a brand new password {n}") for n in range(10)) == 1


# --------------------------------------------------------------------------- sign-in


def test_ten_wrong_logins_do_not_lock_the_owner_out_from_another_address(
    user: User, password: str
) -> None:
    for _ in range(10):
        assert _login(user.email, "wrong guess", ATTACKER).status_code in (401, 429)
    assert _login(user.email, password, ATTACKER).status_code == 429  # the guesser waits
    assert _login(user.email, password, OWNER_ELSEWHERE).status_code == 200


def test_the_delay_grows_with_each_failure_and_a_success_forgets_them(
    user: User, password: str, settings: Any
) -> None:
    settings.LOGIN_FREE_FAILURES = 2
    ip = "192.0.2.50"
    assert _login(user.email, "wrong", ip).status_code == 401
    assert _login(user.email, "wrong", ip).status_code == 401
    assert _login(user.email, "wrong", ip).status_code == 401  # third: 1 s wait starts
    first = _login(user.email, password, ip)
    assert first.status_code == 429
    assert int(first["Retry-After"]) == 1
    time.sleep(1.1)
    assert _login(user.email, "wrong", ip).status_code == 401  # fourth: 2 s wait
    second = _login(user.email, password, ip)
    assert second.status_code == 429
    assert int(second["Retry-After"]) == 2
    time.sleep(2.1)
    assert _login(user.email, password, ip).status_code == 200  # a success forgets
    assert _login(user.email, "wrong", ip).status_code == 401
    assert _login(user.email, password, ip).status_code == 200


def test_successes_are_not_counted(user: User, password: str, settings: Any) -> None:
    settings.LOGIN_FREE_FAILURES = 2
    for _ in range(8):
        assert _login(user.email, password, "192.0.2.60").status_code == 200


def test_a_distributed_guess_leaves_each_guessing_client_one_free_try(
    user: User, password: str, settings: Any
) -> None:
    settings.LOGIN_ACCOUNT_ALARM = 6
    for n in range(6):
        assert _login(user.email, "wrong", f"192.0.2.{100 + n}").status_code == 401
    # Past the alarm, a client that already failed on this account waits at its next failure.
    assert _login(user.email, "wrong", "192.0.2.100").status_code == 401
    assert _login(user.email, password, "192.0.2.100").status_code == 429
    # A client that never failed on it (the owner) signs in.
    assert _login(user.email, password, OWNER_ELSEWHERE).status_code == 200


def test_delays_double_up_to_the_maximum() -> None:
    throttle = FailureThrottle(group="t", free=5, base_delay=1, max_delay=900)
    assert [throttle.delay_after(n) for n in range(1, 10)] == [0, 0, 0, 0, 0, 1, 2, 4, 8]
    assert throttle.delay_after(40) == 900


# --------------------------------------------------------------------------- reset requests


def test_reset_requests_from_one_client_do_not_block_the_owners_reset(
    user: User, worker: Any
) -> None:
    for _ in range(3):
        response = APIClient().post(
            RESET, {"email": user.email}, format="json", REMOTE_ADDR=ATTACKER
        )
        assert response.status_code == 202
    limited = APIClient().post(RESET, {"email": user.email}, format="json", REMOTE_ADDR=ATTACKER)
    assert limited.status_code == 429
    sent = len(worker.wait_for_messages(to=user.email, count=3))
    owner = APIClient().post(
        RESET, {"email": user.email}, format="json", REMOTE_ADDR=OWNER_ELSEWHERE
    )
    assert owner.status_code == 202
    assert len(worker.wait_for_messages(to=user.email, count=sent + 1)) == sent + 1


def test_reset_mails_to_one_address_are_capped_without_telling(
    user: User, settings: Any, worker: Any
) -> None:
    settings.RATE_PASSWORD_RESET_MAILS = "2/h"
    for n in range(4):
        response = APIClient().post(
            RESET, {"email": user.email}, format="json", REMOTE_ADDR=f"192.0.2.{n + 1}"
        )
        assert response.status_code == 202
    worker.wait_for_messages(to=user.email, count=2)
    time.sleep(2)  # a third mail, were the cap broken, would have reached the worker by now
    assert len(worker.messages_to(user.email)) == 2
