"""Real HTTP(S) servers on 127.0.0.1 (random ports) for tests of outbound HTTP clients.

A :class:`LoopbackServer` runs a ``ThreadingHTTPServer`` in a daemon thread and answers each
path with a *handler* (a function of the ``BaseHTTPRequestHandler``); the helpers below build
the usual ones (a plain answer, a redirect, chunked or close-delimited bodies, a slow drip, a
server that never answers). Every request is recorded (path, headers, TLS SNI name) so a test
can assert on what actually reached the server. :func:`make_tls_contexts` makes a throwaway
CA and a server certificate for given host names, and :class:`RecordingResolver` is a
resolver for the safe client's injectable DNS seam.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[["_RequestHandler"], None]


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lower-case names
    sni: str | None


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        sni = getattr(self.connection, "_test_sni", None)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.owner.requests.append(RecordedRequest(self.path, headers, sni))
        handler = self.server.owner.routes.get(self.path.split("?", 1)[0])
        if handler is None:
            respond(b"not found", content_type="text/plain", status=404)(self)
        else:
            handler(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: LoopbackServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Do the TLS handshake in the per-connection thread, recording the SNI name."""
        tls = self.owner.tls
        if tls is not None:
            try:
                request = tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # the client refused our certificate: nothing to serve
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-answer are expected here (size caps, timeouts)."""


def _record_sni(sock: Any, name: str | None, _ctx: ssl.SSLContext) -> None:
    sock._test_sni = name


class LoopbackServer:
    """``with LoopbackServer() as srv: srv.route("/a", respond(b"..."))``."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        if tls is not None:  # record the SNI name on the connection, for do_GET
            tls.sni_callback = _record_sni
        self.routes: dict[str, Handler] = {}
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _RequestHandler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/", *, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------- handlers


def _head(
    req: _RequestHandler, status: int, content_type: str | None, headers: Mapping[str, str]
) -> None:
    req.send_response(status)
    if content_type is not None:
        req.send_header("Content-Type", content_type)
    for name, value in headers.items():
        req.send_header(name, value)


def respond(
    body: bytes,
    *,
    content_type: str | None = "image/png",
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Handler:
    """A complete answer with a Content-Length (unless ``headers`` sets one itself)."""

    def handler(req: _RequestHandler) -> None:
        extra = dict(headers or {})
        extra.setdefault("Content-Length", str(len(body)))
        _head(req, status, content_type, extra)
        req.end_headers()
        with contextlib.suppress(OSError):  # the client may hang up first
            req.wfile.write(body)
        if extra["Content-Length"] != str(len(body)):
            req.close_connection = True

    return handler


def redirect(location: str, *, status: int = 302) -> Handler:
    return respond(b"", content_type=None, status=status, headers={"Location": location})


def chunked(chunks: Iterable[bytes], *, content_type: str = "image/png") -> Handler:
    """Transfer-Encoding: chunked, no Content-Length."""

    def handler(req: _RequestHandler) -> None:
        _head(req, 200, content_type, {"Transfer-Encoding": "chunked"})
        req.end_headers()
        try:
            for chunk in chunks:
                req.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            req.wfile.write(b"0\r\n\r\n")
        except OSError:
            req.close_connection = True

    return handler


def close_delimited(body: bytes, *, content_type: str = "image/png") -> Handler:
    """No length at all: the body ends when the server closes the connection."""

    def handler(req: _RequestHandler) -> None:
        _head(req, 200, content_type, {"Connection": "close"})
        req.end_headers()
        with contextlib.suppress(OSError):  # the client may hang up first
            req.wfile.write(body)
        req.close_connection = True

    return handler


def drip(
    *, interval: float = 0.1, seconds: float = 5.0, content_type: str = "image/png"
) -> Handler:
    """Headers at once, then one body byte every ``interval`` for ``seconds`` (then hang up)."""

    def handler(req: _RequestHandler) -> None:
        _head(req, 200, content_type, {"Content-Length": "1000000"})
        req.end_headers()
        until = time.monotonic() + seconds
        try:
            req.wfile.flush()
            while time.monotonic() < until and not req.server.owner.stopping.wait(interval):
                req.wfile.write(b"x")
                req.wfile.flush()
        except OSError:
            pass
        req.close_connection = True

    return handler


def silent() -> Handler:
    """Accepts the request and never answers (until the server stops)."""

    def handler(req: _RequestHandler) -> None:
        req.server.owner.stopping.wait(30)
        req.close_connection = True

    return handler


# --------------------------------------------------------------------------- DNS seam, TLS


class RecordingResolver:
    """A resolver for ``SafeHttpClient(resolver=...)``: fixed answers, every call recorded.

    ``later`` answers a host's second and further lookups (to simulate DNS rebinding).
    Unknown hosts fail like a real lookup (``socket.gaierror``).
    """

    def __init__(
        self,
        answers: Mapping[str, Sequence[str]],
        *,
        later: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.answers = dict(answers)
        self.later = dict(later or {})
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> list[str]:
        with self._lock:
            seen_before = host in self.calls
            self.calls.append(host)
        if seen_before and host in self.later:
            return list(self.later[host])
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.answers[host])


def make_tls_contexts(hostnames: Sequence[str]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a cert for ``hostnames``, client context trusting only its CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "BuyHive test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="buyhive-tls-") as folder:  # it only reads files
        cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        with open(cert_path, "wb") as fh:
            fh.write(cert.public_bytes(pem))
        with open(key_path, "wb") as fh:
            fh.write(key_pem)
        server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cadata=ca_cert.public_bytes(pem).decode("ascii"))
    return server, client
