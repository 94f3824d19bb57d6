"""The user (signs in with a unique, case-normalised email) and issued refresh tokens."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone


def normalize_email(email: str) -> str:
    """One spelling per address: trimmed and lower-cased, local part included.

    RFC 5321 lets the local part be case-sensitive, but no mainstream provider treats it so,
    and two accounts for ``A@x.com`` and ``a@x.com`` would be a support and security problem.
    """
    return (email or "").strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("email_verified", True)
        if not extra["is_staff"] or not extra["is_superuser"]:
            raise ValueError("A superuser needs is_staff and is_superuser.")
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalize_email(username or ""))


#: How a user hears about their price alerts by mail (the notifications list always has them).
ALERT_EMAILS_CHOICES: list[tuple[str, str]] = [
    ("immediate", "Immediately"),
    ("daily", "In a daily digest"),
    ("off", "Never"),
]


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    avatar_url = models.URLField(max_length=2048, blank=True)
    email_verified = models.BooleanField(
        default=False,
        help_text="Whether the address was proven (by Google or a confirmation email).",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    alert_emails = models.CharField(max_length=10, choices=ALERT_EMAILS_CHOICES, default="daily")

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        indexes = [models.Index(fields=["date_joined"])]

    def __str__(self) -> str:
        return self.email

    @property
    def public_id(self) -> str:
        """The id as API clients and logs see it: the ObjectId as a string."""
        return str(self.pk)

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)


class RefreshToken(models.Model):
    """Every refresh token we issued, so that it can be rotated, revoked and purged.

    SimpleJWT's ``token_blacklist`` app declares ``BigAutoField`` ids, which MongoDB cannot
    store, and re-declaring its models would fork the library. One table of our own is
    simpler: a refresh token is valid only while its row exists, is unrevoked and
    unexpired. Rotation revokes the used row and records its successor; presenting a
    revoked token again is refused (and revokes the successor chain's family, see
    ``accounts.tokens``).
    """

    jti = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_tokens")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "revoked_at"]),
            models.Index(fields=["expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.jti}"  # type: ignore[attr-defined]
