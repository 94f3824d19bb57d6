"""Address shapes of product-detail pages, shared by the URL features and the canonical-address
feature: generic path patterns used by many shop platforms, never a site name."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# /p/<slug>, /dp/<ASIN-like id>, /product/<slug>, /itm/<digits>, <slug>-p-123.html,
# /<slug>/p123456, /pd/<slug>: detail pages on common shop platforms. A bare number at the
# end is not one: articles and forum threads end in ids and dates too.
_PRODUCT_PATH = re.compile(
    r"/(?:p|dp|pd|product|products|produkt|produit|producto|prodotto|produto|item|itm|sku)"
    r"/[^/]+"
    r"|[-_/]p[-_]?\d{3,}(?:\.html?)?/?$",
    re.I,
)


def product_path_shape(url: str) -> bool:
    """The address's path has a product-detail shape."""
    try:
        path = urlsplit(url if "://" in url else "http://" + url).path
    except ValueError:
        return False
    return bool(_PRODUCT_PATH.search(path))
