"""A fake Hugging Face hub on loopback, answering what ``hf_hub_download`` asks.

``huggingface_hub`` resolves a file with ``HEAD /{repo}/resolve/{revision}/{filename}``
(``Accept-Encoding: identity``) and reads ``X-Repo-Commit`` (the commit the revision names),
``X-Linked-Etag`` or ``ETag`` (for an LFS file, its sha256) and ``X-Linked-Size`` or
``Content-Length``; then it ``GET`` s the same address (following redirects) and streams the
body. This server answers both for the files added to it, at one commit, and 404 with the
hub's ``X-Error-Code: EntryNotFound`` otherwise. It counts the GETs per path.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, commit: str = COMMIT) -> None:
        self.commit = commit
        self.files: dict[str, bytes] = {}
        self.gets: Counter[str] = Counter()
        self.heads: Counter[str] = Counter()
        self.user_agents: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, *, body: bool) -> None:
                path = self.path.split("?", 1)[0]
                (hub.gets if body else hub.heads)[path] += 1
                hub.user_agents.append(self.headers.get("User-Agent", ""))
                payload = hub.files.get(path)
                if payload is None:
                    message = b"Entry not found"
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(message)))
                    self.end_headers()
                    if body:
                        self.wfile.write(message)
                    return
                etag = hashlib.sha256(payload).hexdigest()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("ETag", f'"{etag}"')
                self.send_header("X-Linked-Etag", f'"{etag}"')
                self.send_header("X-Linked-Size", str(len(payload)))
                self.send_header("X-Repo-Commit", hub.commit)
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if body:
                    self.wfile.write(payload)

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, repo: str, revision: str, filename: str, payload: bytes) -> str:
        """Serve ``payload`` as ``filename`` of ``repo`` at ``revision``; returns its path."""
        path = f"/{repo}/resolve/{revision}/{filename}"
        self.files[path] = payload
        return path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
