"""A stand-in for Google's side of sign-in: RSA keys, a JWKS served on loopback, ID tokens.

Only the key source differs from production: the verifier fetches this key set over HTTP
from 127.0.0.1 exactly as it fetches Google's, and checks these tokens with the same code.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from buyhive.tests.http_servers import LoopbackServer, respond

EXTENSION_CLIENT_ID = "test-extension-client.apps.googleusercontent.com"
JWKS_PATH = "/oauth2/v3/certs"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        # 2048 bits, like Google's; generation takes ~50 ms.
        return cls(kid or uuid.uuid4().hex, rsa.generate_private_key(65537, 2048))

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}


@dataclass
class FakeGoogle:
    server: LoopbackServer
    keys: list[SigningKey]
    max_age: int = 21600
    status: int = 200
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def jwks_url(self) -> str:
        return self.server.url(JWKS_PATH)

    @property
    def fetches(self) -> int:
        return sum(1 for r in self.server.requests if r.path == JWKS_PATH)

    def publish(self, keys: list[SigningKey]) -> None:
        """Rotate: the key set now holds ``keys``."""
        with self._lock:
            self.keys = list(keys)

    def _serve(self, req: Any) -> None:
        with self._lock:
            body = json.dumps({"keys": [k.jwk() for k in self.keys]}).encode()
            status = self.status
        headers = {"Cache-Control": f"public, max-age={self.max_age}, must-revalidate"}
        respond(body, content_type="application/json", status=status, headers=headers)(req)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://accounts.google.com",
            "azp": EXTENSION_CLIENT_ID,
            "aud": EXTENSION_CLIENT_ID,
            "sub": "110169484474386276334",
            "email": "carol@example.com",
            "email_verified": True,
            "name": "Carol Google",
            "picture": "https://lh3.googleusercontent.com/a/carol=s96-c",
            "iat": now,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        *,
        key: SigningKey | None = None,
        kid: str | None = None,
        algorithm: str = "RS256",
        **overrides: Any,
    ) -> str:
        """A signed ID token; ``key`` defaults to the first published key."""
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(**overrides),
            key.private,
            algorithm=algorithm,
            headers={"kid": kid or key.kid},
        )


def unsigned_token(claims: dict[str, Any], kid: str) -> str:
    """An ``alg: none`` token (no signature), built by hand as an attacker would."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    return f"{header}.{payload}."


def tamper(token: str, **changes: Any) -> str:
    """Change claims in a signed token's payload, keeping the original signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def start_fake_google(keys: int = 1) -> FakeGoogle:
    server = LoopbackServer()
    fake = FakeGoogle(server=server, keys=[SigningKey.generate() for _ in range(keys)])
    server.route(JWKS_PATH, fake._serve)
    server.__enter__()
    return fake
