"""The shops of the end-to-end tests: real saved pages served on loopback at their own paths.

Pages come from ``../shared/data/product-pages`` (with their ground truth) and
``../shared/data/article-pages``. Each is served at its original URL's path and query on
``http://127.0.0.1:<port>``, as the shop served it (the saved HTML, ``text/html; utf-8``).
A test may replace a page's HTML while the server runs (the price changed at the shop).
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("BUYHIVE_SHARED_DATA", str(REPO_ROOT.parent / "shared" / "data")))
PRODUCT_DIR = DATA_DIR / "product-pages"
ARTICLE_DIR = DATA_DIR / "article-pages"


@dataclass(frozen=True)
class SavedPage:
    key: str
    original_url: str
    html: str
    truth: dict[str, Any]

    @property
    def path(self) -> str:
        """The original URL's path and query: where the shop on loopback serves it."""
        parts = urlsplit(self.original_url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def product_page(key_prefix: str) -> SavedPage:
    truth = json.loads((PRODUCT_DIR / "ground-truth.json").read_text())
    (key,) = [k for k in truth if k.startswith(key_prefix)]
    html = gzip.decompress((PRODUCT_DIR / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8")
    return SavedPage(key=key, original_url=truth[key]["url"], html=html, truth=truth[key])


def article_page(key_prefix: str) -> SavedPage:
    pages = json.loads((ARTICLE_DIR / "pages.json").read_text())
    (key,) = [k for k in pages if k.startswith(key_prefix)]
    raw = gzip.decompress((ARTICLE_DIR / "html" / f"{key}.html.gz").read_bytes())
    return SavedPage(
        key=key, original_url=pages[key]["url"], html=raw.decode("utf-8", "replace"), truth={}
    )


class ShopServer:
    """A threaded HTTP server on 127.0.0.1 serving pages by path (and query)."""

    def __init__(self) -> None:
        self._pages: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        self.requests: list[str] = []
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with shop._lock:
                    shop.requests.append(self.path)
                    # A shop ignores parameters it does not know (ref=, utm_...).
                    found = shop._pages.get(self.path) or shop._pages.get(self.path.split("?")[0])
                if found is None:
                    self.send_error(404)
                    return
                body, content_type = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, page: SavedPage, html: str | None = None) -> str:
        """Serve ``page`` (or other HTML at its path); its loopback URL."""
        body = (html if html is not None else page.html).encode("utf-8")
        with self._lock:
            self._pages[page.path] = (body, "text/html; charset=utf-8")
        return self.url(page.path)

    def serve_file(self, path: str, body: bytes, content_type: str) -> str:
        with self._lock:
            self._pages[path] = (body, content_type)
        return self.url(path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
