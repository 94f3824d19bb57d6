"""Google ID token checks: the one client for Google's published keys, and the verifier.

:class:`GoogleKeySet` fetches the JSON Web Key Set from ``settings.GOOGLE_JWKS_URL`` (our own
configuration, never a user-supplied address) with httpx and short timeouts, and keeps it in
Django's cache (Redis, shared by every worker) for as long as Google's ``Cache-Control:
max-age`` says. Google rotates its signing keys every few days and publishes the next key
before using it, so a token whose ``kid`` we do not know triggers one refetch; such
refetches are themselves limited (one per ``refetch_interval`` across all workers), so a
flood of tokens with made-up ``kid`` values cannot make us hammer Google. When a refetch
fails, the last good key set is kept for ``stale_grace`` seconds past its expiry, so a short
outage at Google does not stop sign-ins.

:class:`GoogleIdTokenVerifier` checks a token with PyJWT, pinned to RS256: signature, ``aud``
in the configured client ids, ``iss`` one of Google's two spellings, ``exp``/``iat`` within
the configured leeway, and ``email_verified``. Each refusal names its reason, so a client
developer (and a test) can tell a wrong audience from an expired token.

Tests run this exact code against a key set served on loopback; only the URL differs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import structlog
from django.conf import settings
from django.core.cache import cache as default_cache
from django.core.cache.backends.base import BaseCache

from accounts.tokens import TokenInvalid
from buyhive.exceptions import ServiceUnavailable

logger = structlog.get_logger(__name__)

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
ALGORITHM = "RS256"  # Google signs ID tokens with RS256 only; anything else is refused.
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*(\d+)", re.IGNORECASE)
_CACHE_PREFIX = "google-jwks:"


class GoogleTokenRefused(TokenInvalid):
    """A Google ID token we refuse (401 ``token_invalid``); ``reason`` is a stable slug."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class GoogleKeysUnavailable(ServiceUnavailable):
    default_message = "Google sign-in is temporarily unavailable. Try again shortly."


@dataclass(frozen=True)
class GoogleKeySetConfig:
    url: str
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    total_timeout: float = 8.0
    # Used when the answer carries no max-age; Google's is about 6 hours.
    default_max_age: int = 3600
    min_max_age: int = 60
    max_max_age: int = 24 * 3600
    stale_grace: int = 24 * 3600
    refetch_interval: int = 30
    max_bytes: int = 64 * 1024


def max_age_of(cache_control: str | None, config: GoogleKeySetConfig) -> int:
    """Seconds to keep a key set, from its ``Cache-Control`` header, clamped to the config."""
    value = cache_control or ""
    if "no-store" in value.lower() or "no-cache" in value.lower():
        return config.min_max_age
    match = _MAX_AGE.search(value)
    seconds = int(match.group(1)) if match else config.default_max_age
    return max(config.min_max_age, min(seconds, config.max_max_age))


@functools.lru_cache(maxsize=8)
def _parse_keys(raw: str) -> dict[str, jwt.PyJWK]:
    """kid -> key for the RSA signing keys of a JWKS document (memoised per document)."""
    document = json.loads(raw)
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not entry.get("kid"):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            keys[str(entry["kid"])] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except jwt.PyJWTError:
            logger.warning("google_jwks_bad_key", kid=str(entry.get("kid"))[:64])
    return keys


class GoogleKeySet:
    """Google's signing keys, fetched through one client and cached in Django's cache."""

    def __init__(self, config: GoogleKeySetConfig, *, cache: BaseCache | None = None) -> None:
        self.config = config
        self.cache = cache if cache is not None else default_cache
        digest = hashlib.sha256(config.url.encode()).hexdigest()[:16]
        self._entry_key = f"{_CACHE_PREFIX}{digest}"
        self._refetch_key = f"{_CACHE_PREFIX}{digest}:refetch"

    @classmethod
    def from_settings(cls) -> GoogleKeySet:
        return cls(GoogleKeySetConfig(url=settings.GOOGLE_JWKS_URL))

    # ------------------------------------------------------------------ public

    def get_signing_key(self, kid: str) -> jwt.PyJWK:
        """The key for ``kid``; refetches once (rate-limited) when ``kid`` is unknown."""
        entry, fresh = self._current()
        keys = _parse_keys(entry["jwks"])
        if kid in keys:
            return keys[kid]
        if not fresh and self._may_refetch():
            entry = self._refresh(stale=entry)
            keys = _parse_keys(entry["jwks"])
            if kid in keys:
                logger.info("google_jwks_rotated", kid=kid[:64])
                return keys[kid]
        raise GoogleTokenRefused(
            "unknown_key", "The Google ID token is signed with an unknown key."
        )

    # ------------------------------------------------------------------ internals

    def _current(self) -> tuple[dict[str, Any], bool]:
        """(a usable cache entry, whether it was fetched by this call)."""
        entry = self._cache_get()
        if entry is not None and entry["expires_at"] > time.time():
            return entry, False
        return self._refresh(stale=entry), True

    def _may_refetch(self) -> bool:
        """At most one unknown-``kid`` refetch per ``refetch_interval``, across workers."""
        try:
            return bool(self.cache.add(self._refetch_key, 1, timeout=self.config.refetch_interval))
        except Exception:  # noqa: BLE001 - cache down: do not let bad kids reach Google
            return False

    def _refresh(self, *, stale: dict[str, Any] | None) -> dict[str, Any]:
        try:
            raw, max_age = self._fetch()
        except GoogleKeysUnavailable:
            if stale is not None and stale["stale_until"] > time.time():
                logger.warning("google_jwks_fetch_failed_using_stale")
                return stale
            raise
        now = time.time()
        entry = {
            "jwks": raw,
            "expires_at": now + max_age,
            "stale_until": now + max_age + self.config.stale_grace,
        }
        try:
            self.cache.set(self._entry_key, entry, timeout=max_age + self.config.stale_grace)
        except Exception:  # noqa: BLE001 - the keys are still good for this request
            logger.warning("google_jwks_cache_set_failed")
        return entry

    def _cache_get(self) -> dict[str, Any] | None:
        try:
            entry = self.cache.get(self._entry_key)
        except Exception:  # noqa: BLE001 - a cache outage is a miss
            logger.warning("google_jwks_cache_get_failed")
            return None
        return entry if isinstance(entry, dict) and "jwks" in entry else None

    def _fetch(self) -> tuple[str, int]:
        """GET the key set: (its JSON text, seconds to keep it). Raises GoogleKeysUnavailable."""
        config = self.config
        timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
        deadline = time.monotonic() + config.total_timeout
        started = time.monotonic()
        try:
            with (
                httpx.Client(timeout=timeout, follow_redirects=False) as client,
                client.stream("GET", config.url, headers={"Accept": "application/json"}) as resp,
            ):
                if resp.status_code != 200:
                    raise GoogleKeysUnavailable(f"status {resp.status_code}")
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > config.max_bytes:
                        raise GoogleKeysUnavailable("key set too large")
                    if time.monotonic() > deadline:
                        raise GoogleKeysUnavailable("key set fetch too slow")
                cache_control = resp.headers.get("cache-control")
        except httpx.HTTPError as exc:
            logger.warning("google_jwks_fetch_failed", error=type(exc).__name__)
            raise GoogleKeysUnavailable() from exc
        except GoogleKeysUnavailable as exc:
            logger.warning("google_jwks_fetch_failed", error=exc.message)
            raise GoogleKeysUnavailable() from exc
        raw = bytes(body).decode("utf-8", errors="replace")
        try:
            keys = _parse_keys(raw)
        except (ValueError, TypeError) as exc:
            logger.warning("google_jwks_not_json")
            raise GoogleKeysUnavailable() from exc
        if not keys:
            logger.warning("google_jwks_no_keys")
            raise GoogleKeysUnavailable()
        max_age = max_age_of(cache_control, config)
        logger.info(
            "google_jwks_fetched",
            keys=len(keys),
            max_age=max_age,
            ms=round((time.monotonic() - started) * 1000, 1),
        )
        return raw, max_age


@dataclass(frozen=True)
class GoogleIdentity:
    """What a verified Google ID token says about its holder."""

    sub: str
    email: str
    name: str
    picture: str
    token_id: str  # the ``jti`` claim, or a hash of the token when it has none
    expires_at: int
    claims: dict[str, Any] = field(repr=False)


class GoogleIdTokenVerifier:
    """Checks a Google ID token and returns the identity it proves."""

    def __init__(
        self,
        *,
        key_set: GoogleKeySet,
        client_ids: Sequence[str],
        leeway_seconds: int = 60,
        issuers: Sequence[str] = GOOGLE_ISSUERS,
    ) -> None:
        self.key_set = key_set
        self.client_ids = [c for c in client_ids if c]
        self.leeway = leeway_seconds
        self.issuers = tuple(issuers)

    @classmethod
    def from_settings(cls) -> GoogleIdTokenVerifier:
        return cls(
            key_set=GoogleKeySet.from_settings(),
            client_ids=list(settings.GOOGLE_CLIENT_IDS),
            leeway_seconds=settings.GOOGLE_TOKEN_LEEWAY_SECONDS,
        )

    def verify(self, id_token: str) -> GoogleIdentity:
        if not self.client_ids:
            logger.error("google_sign_in_not_configured")
            raise ServiceUnavailable("Google sign-in is not configured.")
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise GoogleTokenRefused("malformed", "The Google ID token is malformed.") from exc
        if header.get("alg") != ALGORITHM:
            raise GoogleTokenRefused(
                "algorithm", "The Google ID token uses an algorithm that is not accepted."
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise GoogleTokenRefused("malformed", "The Google ID token names no key.")
        key = self.key_set.get_signing_key(kid)
        claims = self._decode(id_token, key)
        # ``azp`` names the client the token was issued to; when it is there (Google sets it
        # when it differs from ``aud``), it must be one of ours too.
        azp = claims.get("azp")
        if azp is not None and azp not in self.client_ids:
            raise GoogleTokenRefused(
                "authorized_party", "The Google ID token was issued to another application."
            )
        return self._identity(id_token, claims)

    def _decode(self, id_token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                id_token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self.client_ids,
                issuer=self.issuers,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.InvalidSignatureError as exc:
            raise GoogleTokenRefused(
                "signature", "The Google ID token's signature does not verify."
            ) from exc
        except jwt.ExpiredSignatureError as exc:
            raise GoogleTokenRefused("expired", "The Google ID token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise GoogleTokenRefused(
                "not_yet_valid", "The Google ID token is issued in the future."
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise GoogleTokenRefused(
                "audience", "The Google ID token is not meant for this application."
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise GoogleTokenRefused(
                "issuer", "The Google ID token was not issued by Google."
            ) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise GoogleTokenRefused(
                "missing_claim", f"The Google ID token lacks the {exc.claim!r} claim."
            ) from exc
        except jwt.PyJWTError as exc:
            raise GoogleTokenRefused("malformed", "The Google ID token is malformed.") from exc

    def _identity(self, id_token: str, claims: dict[str, Any]) -> GoogleIdentity:
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise GoogleTokenRefused("missing_claim", "The Google ID token carries no email.")
        # Google sends a boolean; very old tokens sent the string "true".
        if claims.get("email_verified") not in (True, "true"):
            raise GoogleTokenRefused(
                "email_unverified", "Google has not verified this email address."
            )
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise GoogleTokenRefused("missing_claim", "The Google ID token has no valid subject.")
        jti = claims.get("jti")
        token_id = (
            str(jti)
            if isinstance(jti, str) and jti
            else hashlib.sha256(id_token.encode("utf-8")).hexdigest()
        )
        name = claims.get("name")
        picture = claims.get("picture")
        return GoogleIdentity(
            sub=sub,
            email=email,
            name=name if isinstance(name, str) else "",
            picture=picture if isinstance(picture, str) else "",
            token_id=token_id,
            expires_at=int(claims["exp"]),
            claims=claims,
        )
