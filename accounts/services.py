"""Account writes: registration, sign-in (password and Google), password reset, profile.

Every function is keyword-only and states its rules in its docstring. Views call these and
answer what they return; refusals are domain exceptions (``buyhive.exceptions``) that the
DRF exception handler turns into the error envelope.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from bson import ObjectId
from bson.errors import InvalidId
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django_mongodb_backend import transaction

from accounts.auth_cache import forget_user
from accounts.clients import GoogleIdentity, GoogleIdTokenVerifier, GoogleTokenRefused
from accounts.models import User, normalize_email
from accounts.signals import account_deactivated, account_taken_over
from accounts.tokens import TokenInvalid, revoke_all_for_user
from buyhive.exceptions import Conflict, ServiceUnavailable, ValidationFailed
from buyhive.mail.models import OutboundMail
from buyhive.mail.services import send_templated_mail

logger = structlog.get_logger(__name__)

GOOGLE_PROVIDER = "google"
INVALID_CREDENTIALS = "The email or password is incorrect."
INVALID_RESET_LINK = "The reset link is invalid or has expired."
_USED_GOOGLE_TOKEN_PREFIX = "google-id-token-used:"  # noqa: S105 - a cache key prefix
_NAME_MAX = User._meta.get_field("name").max_length or 150
_AVATAR_MAX = User._meta.get_field("avatar_url").max_length or 2048


def _password_errors(password: str, user: User) -> None:
    """Django's validators (length, common, numeric, similarity to the email and name)."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed(exc.messages[0], fields={"password": exc.messages}) from exc


# --------------------------------------------------------------------------- password


def user_register(*, email: str, password: str, name: str = "") -> User:
    """Create an email + password account.

    The address is normalised (``A@x.com`` and ``a@x.com`` are one account), so an existing
    address in any case is refused. The password must pass Django's validators. The new
    account's address is unverified: a later Google sign-in for the same address takes the
    account over (see :func:`google_sign_in`).
    """
    email = normalize_email(email)
    user = User(email=email, name=name.strip()[:_NAME_MAX])
    _password_errors(password, user)
    if User.objects.filter(email=email).exists():
        raise ValidationFailed(
            "An account with this email already exists.",
            fields={"email": ["An account with this email already exists."]},
        )
    user.set_password(password)
    try:
        user.save()
    except IntegrityError as exc:  # a concurrent registration of the same address
        raise ValidationFailed(
            "An account with this email already exists.",
            fields={"email": ["An account with this email already exists."]},
        ) from exc
    logger.info("user_registered", user_id=str(user.pk))
    email_confirmation_send(user=user, key=f"register:{user.pk}")
    return user


# --------------------------------------------------------------------------- email confirmation

EMAIL_CONFIRMATION_KIND = "email_confirmation"
_EMAIL_CONFIRMATION_SALT = "accounts.email_confirmation.v1"
INVALID_CONFIRMATION_KEY = "The confirmation link is invalid or has expired."


def _email_digest(email: str) -> str:
    """The address inside a key: hashed, so the link does not carry it in clear."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]


def email_confirmation_key(*, user: User) -> str:
    """A signed, timestamped key naming the user and the address it confirms.

    ``TimestampSigner`` over ``"<user id>:<hash of the email>"`` with ``SECRET_KEY``: it needs
    no stored state, expires after ``EMAIL_CONFIRMATION_MAX_AGE`` seconds, and stops working
    when the account's email changes. allauth's HMAC confirmation cannot be used: it
    JSON-serialises the primary key, which fails on ObjectIds.
    """
    signer = signing.TimestampSigner(salt=_EMAIL_CONFIRMATION_SALT)
    return signer.sign(f"{user.pk}:{_email_digest(user.email)}")


def email_confirmation_url(key: str) -> str:
    path = reverse("email_confirmation_page", kwargs={"key": key})
    return f"{settings.PUBLIC_BASE_URL}{path}"


def email_confirmation_send(*, user: User, key: str) -> OutboundMail | None:
    """Queue a confirmation mail to the account's address; nothing for a confirmed one.

    ``key`` names the occasion (registration, a resend, the first refused share), so the same
    occasion never mails twice (the outbox's idempotency key). The mail goes only to the
    account's own address and says what to do if the reader did not create the account.
    """
    if user.email_verified or not user.is_active:
        return None
    confirm_url = email_confirmation_url(email_confirmation_key(user=user))
    mail = send_templated_mail(
        kind=EMAIL_CONFIRMATION_KIND,
        to=user.email,
        key=f"{EMAIL_CONFIRMATION_KIND}:{key}",
        template="accounts/email/email_confirmation",
        context={
            "user": user,
            "confirm_url": confirm_url,
            "valid_days": max(1, settings.EMAIL_CONFIRMATION_MAX_AGE // 86400),
        },
    )
    logger.info("email_confirmation_queued", user_id=str(user.pk), occasion=key.split(":")[0])
    return mail


def email_confirmation_resend(*, user: User) -> OutboundMail | None:
    """Mail a fresh confirmation link (rate limiting is the caller's)."""
    return email_confirmation_send(user=user, key=f"resend:{user.pk}:{uuid.uuid4().hex}")


def email_confirmation_on_refused_share(*, user: User) -> OutboundMail | None:
    """The first share refused for an unconfirmed address mails a confirmation link, once.

    Accounts that existed before confirmation did never got a link: their first attempt
    to share is when they learn they need one. Later refusals send nothing more (the key
    names the address), so retrying a share cannot flood the owner's inbox; ``resend`` can.
    """
    return email_confirmation_send(user=user, key=f"share:{user.pk}:{_email_digest(user.email)}")


def email_confirm(*, key: str) -> User:
    """Mark the address a confirmation key names as verified; 400 for a bad or stale key.

    Idempotent: a key for an address already confirmed succeeds again. A key made for an
    older address of the account (the email changed since) is refused.
    """
    signer = signing.TimestampSigner(salt=_EMAIL_CONFIRMATION_SALT)
    invalid = ValidationFailed(INVALID_CONFIRMATION_KEY, fields={"key": [INVALID_CONFIRMATION_KEY]})
    try:
        value = signer.unsign(key, max_age=settings.EMAIL_CONFIRMATION_MAX_AGE)
        user_id, digest = value.split(":", 1)
        pk = ObjectId(user_id)
    except (signing.BadSignature, ValueError, InvalidId, TypeError) as exc:
        raise invalid from exc
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not hmac.compare_digest(digest, _email_digest(user.email)):
        raise invalid
    if not user.email_verified:
        User.objects.filter(pk=user.pk, email=user.email).update(email_verified=True)
        user.email_verified = True
        forget_user(user.pk)  # a raw update skips post_save: the next request reads the row
        logger.info("email_confirmed", user_id=str(user.pk))
    _record_verified_address(user, user.email)
    return user


def user_login(*, email: str, password: str) -> User:
    """The active user with this email and password, or one refusal for every failure.

    An unknown address, a wrong password, an account without a usable password (Google
    only) and a disabled account all answer the same 401, and the password is hashed in
    every case (a throwaway hash when there is nothing to check it against), so neither
    the answer nor its timing tells whether or how an account exists.
    """
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is None or not user.has_usable_password():
        make_password(password)  # the cost of a real check
        raise TokenInvalid(INVALID_CREDENTIALS)
    # check_password also upgrades the stored hash when the preferred hasher changed.
    if not user.check_password(password) or not user.is_active:
        raise TokenInvalid(INVALID_CREDENTIALS)
    # Recording the login also voids any password-reset link sent before it (the reset
    # token hashes last_login), as Django's own login() does.
    user.last_login = timezone.now()
    User.objects.filter(pk=user.pk).update(last_login=user.last_login)
    return user


# --------------------------------------------------------------------------- Google


def _consume_google_token(identity: GoogleIdentity, leeway: int) -> None:
    """Refuse a Google ID token that was already used: remember its id until it expires."""
    key = _USED_GOOGLE_TOKEN_PREFIX + hashlib.sha256(identity.token_id.encode()).hexdigest()
    ttl = max(1, identity.expires_at - int(time.time()) + leeway)
    try:
        first_use = cache.add(key, 1, timeout=ttl)
    except Exception as exc:
        logger.warning("google_replay_cache_unavailable", error=type(exc).__name__)
        raise ServiceUnavailable("Temporarily unavailable. Try again shortly.") from exc
    if not first_use:
        logger.warning("google_token_replayed", sub=identity.sub)
        raise GoogleTokenRefused("replayed", "This Google ID token was already used.")


def _clean_avatar(url: str) -> str:
    return url if url.startswith(("https://", "http://")) and len(url) <= _AVATAR_MAX else ""


@dataclass(frozen=True)
class GoogleSignIn:
    """What a Google sign-in did: the user, how (``outcome``), and for a takeover, the counts
    of what the account already held (``takeover``; ``None`` otherwise)."""

    user: User
    outcome: str  # "signed_in" | "linked" | "taken_over" | "created"
    takeover: dict[str, int] | None = None


def google_sign_in(*, id_token: str, verifier: GoogleIdTokenVerifier | None = None) -> User:
    """The user a Google ID token signs in (see :func:`google_sign_in_result`)."""
    return google_sign_in_result(id_token=id_token, verifier=verifier).user


def google_sign_in_result(
    *, id_token: str, verifier: GoogleIdTokenVerifier | None = None
) -> GoogleSignIn:
    """Sign in with a Google ID token: verify it, then find, link or create the user.

    Rules, in order:

    1. A Google account already linked (``SocialAccount`` provider ``google``, uid = ``sub``)
       signs in as its user.
    2. Otherwise, a user with the same (normalised) email:

       * already linked to *another* Google account (another ``sub``) is refused (409
         ``conflict``): Google accounts can change address, and one address must not
         silently gain a second Google identity;
       * whose address was verified is linked: it keeps its password;
       * whose address was never verified is *taken over* by the Google identity, which
         has just proven it owns the address: the password becomes unusable, every
         refresh token is revoked (access tokens die with the password hash), and
         :data:`accounts.signals.account_taken_over` lets the other apps close what was
         made before (carts revokes every share link). Otherwise whoever registered the
         address first could keep a way in. The counts the receivers return are the
         result's ``takeover``, so the owner is told what was already there.
    3. Otherwise a new user is created, with an unusable password.

    A disabled user is refused in every case. Name and avatar follow Google's on every
    sign-in. Each token is accepted once (its ``jti`` is remembered until it expires).
    """
    verifier = verifier or GoogleIdTokenVerifier.from_settings()
    identity = verifier.verify(id_token)
    _consume_google_token(identity, verifier.leeway)
    email = normalize_email(identity.email)
    name = identity.name.strip()[:_NAME_MAX]
    avatar = _clean_avatar(identity.picture)

    takeover: dict[str, int] | None = None
    with transaction.atomic():
        # Two indexed reads rather than select_related (a $lookup on MongoDB).
        social = SocialAccount.objects.filter(provider=GOOGLE_PROVIDER, uid=identity.sub).first()
        if social is not None:
            user: User = User.objects.get(pk=social.user_id)  # type: ignore[attr-defined]
            _refuse_inactive(user)
            outcome = "signed_in"
        else:
            existing = User.objects.filter(email=email).first()
            if existing is not None:
                user = existing
                _refuse_inactive(user)
                _refuse_second_google_identity(user, identity.sub)
                if user.email_verified:
                    outcome = "linked"
                else:
                    takeover = _take_over(user)
                    outcome = "taken_over"
            else:
                user = User(email=email, email_verified=True)
                user.set_unusable_password()
                outcome = "created"
            social = SocialAccount(user=user, provider=GOOGLE_PROVIDER, uid=identity.sub)
        _apply_google_profile(user, name=name, avatar=avatar, created=outcome == "created")
        social.user = user
        social.extra_data = _social_extra(identity)
        social.last_login = timezone.now()
        social.save()
        if user.email == email:  # Google may report a newer address than the account's
            _record_verified_address(user, email)
    logger.info("google_sign_in", user_id=str(user.pk), outcome=outcome)
    return GoogleSignIn(user=user, outcome=outcome, takeover=takeover)


def _refuse_inactive(user: User) -> None:
    if not user.is_active:
        raise TokenInvalid("This account is disabled.")


def _refuse_second_google_identity(user: User, sub: str) -> None:
    other = SocialAccount.objects.filter(user=user, provider=GOOGLE_PROVIDER).exclude(uid=sub)
    if other.exists():
        logger.warning("google_second_identity_refused", user_id=str(user.pk))
        raise Conflict(
            "This email address is already linked to another Google account. "
            "Sign in with that Google account."
        )


def _counts_of_receivers(signal: Signal, *, user: User, start: dict[str, int]) -> dict[str, int]:
    """Send ``signal`` for ``user``; ``start`` plus the counts each receiver returned, summed
    by name (the receivers of ``accounts.signals`` answer ``{"share_links_revoked": 2}``)."""
    summary = dict(start)
    for _receiver, counts in signal.send(sender=User, user=user):
        if isinstance(counts, dict):
            for key, value in counts.items():
                summary[key] = summary.get(key, 0) + int(value)
    return summary


def _take_over(user: User) -> dict[str, int]:
    """Close every way in that predates the proof of ownership; return what was there."""
    user.set_unusable_password()
    user.email_verified = True
    user.save(update_fields=["password", "email_verified"])
    revoked = revoke_all_for_user(user)
    summary = _counts_of_receivers(
        account_taken_over, user=user, start={"sessions_revoked": revoked}
    )
    logger.warning("google_took_over_unverified_account", user_id=str(user.pk), **summary)
    return summary


def _apply_google_profile(user: User, *, name: str, avatar: str, created: bool) -> None:
    changed: list[str] = []
    if name and user.name != name:
        user.name = name
        changed.append("name")
    if avatar and user.avatar_url != avatar:
        user.avatar_url = avatar
        changed.append("avatar_url")
    if not user.email_verified:
        user.email_verified = True
        changed.append("email_verified")
    if created:
        user.save()
    elif changed:
        user.save(update_fields=changed)


def _social_extra(identity: GoogleIdentity) -> dict[str, Any]:
    keep = ("sub", "email", "email_verified", "name", "given_name", "family_name", "picture")
    return {k: identity.claims[k] for k in keep if k in identity.claims}


def _record_verified_address(user: User, email: str) -> None:
    """Keep allauth's address book in step, so its web flow (staff) sees the same facts."""
    address = EmailAddress.objects.filter(user=user, email=email).first()
    if address is None:
        has_primary = EmailAddress.objects.filter(user=user, primary=True).exists()
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=not has_primary)
    elif not address.verified:
        address.verified = True
        address.save(update_fields=["verified"])


# --------------------------------------------------------------------------- password reset


def password_reset_uid(user: User) -> str:
    """The user's id for a reset link: the ObjectId string, urlsafe-base64 encoded.

    allauth's ``user_pk_to_url_str`` assumes integer or UUID keys and fails on ObjectIds.
    """
    return urlsafe_base64_encode(force_bytes(str(user.pk)))


def _user_from_uid(uid: str) -> User | None:
    try:
        pk = ObjectId(force_str(urlsafe_base64_decode(uid)))
    except (InvalidId, TypeError, ValueError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk).first()


def password_reset_url(user: User, token: str) -> str:
    path = reverse(
        "password_reset_page", kwargs={"uidb64": password_reset_uid(user), "token": token}
    )
    return f"{settings.PUBLIC_BASE_URL}{path}"


PASSWORD_RESET_TASK = "accounts.password_reset_send"  # noqa: S105 - a task name


def password_reset_request(*, email: str) -> None:
    """Queue the reset mail for ``email``; the same work whether or not an account has it.

    The request publishes one task and answers 202: the lookup, the token and the mail happen
    in the worker (:func:`password_reset_mail`), so neither the answer nor its timing tells
    whether an account exists, and a slow or failing mail service never reaches the request.
    With the broker down the request is dropped (logged ``password_reset_enqueue_failed``)
    and still answers 202; the user can ask again (docs/reliability.md).
    """
    from buyhive.celery import app

    request_key = uuid.uuid4().hex
    try:
        app.send_task(PASSWORD_RESET_TASK, kwargs={"email": email, "request_key": request_key})
    except Exception as exc:  # noqa: BLE001 - any broker failure degrades the same way
        logger.warning("password_reset_enqueue_failed", error=type(exc).__name__)


def password_reset_mail(
    *,
    email: str,
    request_key: str,
    token_generator: PasswordResetTokenGenerator = default_token_generator,
) -> OutboundMail | None:
    """Mail a reset link when an active account with a usable password has this address.

    Silent otherwise. The token is Django's: it hashes the password and last login, so it
    stops working once used (or after any login), and it expires after
    ``PASSWORD_RESET_TIMEOUT`` seconds. ``request_key`` makes the mail idempotent: the task
    delivered twice queues one mail.
    """
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None or not user.has_usable_password():
        logger.info("password_reset_no_account")
        return None
    token = token_generator.make_token(user)
    context = {
        "user": user,
        "reset_url": password_reset_url(user, token),
        "valid_minutes": max(1, settings.PASSWORD_RESET_TIMEOUT // 60),
    }
    mail = send_templated_mail(
        kind="password_reset",
        to=user.email,
        key=f"password_reset:{request_key}",
        template="accounts/email/password_reset",
        context=context,
    )
    logger.info("password_reset_queued", user_id=str(user.pk))
    return mail


def password_reset_check(
    *, uid: str, token: str, token_generator: PasswordResetTokenGenerator = default_token_generator
) -> User:
    """The user a reset link belongs to, if the link is still valid (else 400)."""
    user = _user_from_uid(uid)
    if user is None or not user.is_active or not token_generator.check_token(user, token):
        raise ValidationFailed(INVALID_RESET_LINK, fields={"token": [INVALID_RESET_LINK]})
    return user


def password_reset_confirm(
    *,
    uid: str,
    token: str,
    new_password: str,
    token_generator: PasswordResetTokenGenerator = default_token_generator,
) -> User:
    """Set a new password from a reset link; the link then stops working.

    The link is good for exactly one change, also under concurrency: the write is a
    compare-and-set on the password hash the link was checked against, so of ten parallel
    confirmations of one link exactly one succeeds and the others get the invalid-link 400.
    Every refresh token of the user is revoked, and access tokens stop working because
    they carry a hash of the old password hash (SimpleJWT's ``CHECK_REVOKE_TOKEN``).
    """
    user = password_reset_check(uid=uid, token=token, token_generator=token_generator)
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed(exc.messages[0], fields={"new_password": exc.messages}) from exc
    checked_hash = user.password
    user.set_password(new_password)
    changed = User.objects.filter(pk=user.pk, password=checked_hash).update(password=user.password)
    if changed != 1:  # another confirmation of this link (or any password change) came first
        logger.warning("password_reset_lost_race", user_id=str(user.pk))
        raise ValidationFailed(INVALID_RESET_LINK, fields={"token": [INVALID_RESET_LINK]})
    revoked = revoke_all_for_user(user)
    logger.info("password_reset_done", user_id=str(user.pk), revoked=revoked)
    return user


# --------------------------------------------------------------------------- profile, status


def user_update_profile(*, user: User, data: dict[str, Any]) -> User:
    """Change the display name, avatar URL and/or alert mails; nothing else is writable here."""
    allowed = {"name", "avatar_url", "alert_emails"}
    unknown = set(data) - allowed
    if unknown:
        raise ValidationFailed(
            "Only name, avatar_url and alert_emails can be changed.",
            fields={key: ["This field cannot be changed."] for key in sorted(unknown)},
        )
    changed = [key for key in allowed if key in data and getattr(user, key) != data[key]]
    for key in changed:
        setattr(user, key, data[key])
    if changed:
        user.save(update_fields=sorted(changed))
    return user


def user_deactivate(*, user: User) -> dict[str, int]:
    """Disable the account and close every way in that it left open.

    Every refresh token is revoked and the cached copy of the user dropped, so access tokens
    are refused at their next use (the authentication checks ``is_active``); then
    ``accounts.signals.account_deactivated`` lets the upper apps close theirs (carts revokes
    the user's share links). One transaction: all of it or none. Idempotent, so running it
    on an account already inactive (unticked by hand in the admin) finishes the job.
    Returns the counts: ``{"sessions_revoked", ...each receiver's counts}``.
    """
    with transaction.atomic():
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
        summary = _counts_of_receivers(
            account_deactivated, user=user, start={"sessions_revoked": revoke_all_for_user(user)}
        )
    logger.info("user_deactivated", user_id=str(user.pk), **summary)
    return summary


def user_reactivate(*, user: User) -> None:
    """Enable the account again; the user signs in afresh (old tokens stay revoked)."""
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
        logger.info("user_reactivated", user_id=str(user.pk))
