"""Accounts' background work: the password-reset mail and the token purge."""

from __future__ import annotations

from celery import shared_task

from accounts import services
from accounts.tokens import purge_expired_tokens as _purge_expired_tokens


@shared_task(name=services.PASSWORD_RESET_TASK)
def password_reset_send(email: str, request_key: str) -> None:
    """Look the address up and mail a reset link when it has an account (the worker's side).

    The request only published this task, so its answer and timing are the same whether or
    not the address has an account.
    """
    services.password_reset_mail(email=email, request_key=request_key)


@shared_task(name="accounts.purge_expired_tokens")
def purge_expired_tokens() -> int:
    return _purge_expired_tokens()
