"""Make a real page large the way real shops do: repeated product-grid sections.

Shops append "similar items", "recently viewed" and "customers also bought" grids below the
product; each card carries a picture with ``srcset``, tracking ``data-`` attributes, an
inline SVG icon or two, event handlers and inline styles. :func:`pad_page` appends such
sections before ``</body>`` until the page reaches the size asked for.
"""

from __future__ import annotations

import json

_HEART = (
    '<svg class="icon icon--heart" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">'
    '<path d="M12 21.35l-1.45-1.32C5.4 15.36 2 12.28 2 8.5 2 5.42 4.42 3 7.5 3c1.74 0 3.41.81 '
    "4.5 2.09C13.09 3.81 14.76 3 16.5 3 19.58 3 22 5.42 22 8.5c0 3.78-3.4 6.86-8.55 "
    '11.54L12 21.35z"/></svg>'
)
_STAR = (
    '<svg class="icon icon--star" viewBox="0 0 24 24" width="12" height="12" aria-hidden="true">'
    '<path d="M12 17.27L18.18 21l-1.64-7.03L22 9.24l-7.19-.61L12 2 9.19 8.63 2 9.24l5.46 '
    '4.73L5.82 21z"/></svg>'
)
_TOWNS = ["Dornbirn", "Bregenz", "Feldkirch", "Bludenz", "Hohenems", "Lustenau", "Götzis"]
_THINGS = ["Lattenrost", "Bettgestell", "Matratze", "Nachttisch", "Kommode", "Lattenrahmen"]


def _card(n: int) -> str:
    name = f"{_THINGS[n % len(_THINGS)]} Modell {n} - {80 + n % 5 * 20} x 200 cm"
    slug = f"{_THINGS[n % len(_THINGS)].lower()}-modell-{n}"
    tracking = json.dumps(
        {"list": "similar_ads", "position": n % 24, "category": "moebel/betten", "ad": f"c{n:09d}"}
    ).replace('"', "&quot;")
    image = f"https://pic0.qimage.de/{n % 97:02d}/{n % 89:02d}/{n:09d}"
    return (
        f'<li class="grid__item grid__item--ad" data-ad-id="c{n:09d}" data-tracking="{tracking}"'
        f' data-impression-url="https://tracking.example.net/i?ad=c{n:09d}&amp;list=similar">'
        f'<article class="card card--ad card--compact" onmouseenter="trackHover({n})"'
        f' style="--card-accent: #f0f0f0">'
        f'<a class="card__link" href="/moebel/betten/c{n:09d}/{slug}.html" title="{name}">'
        f'<picture class="card__media"><source type="image/webp"'
        f' srcset="{image}_s.webp 1x, {image}_m.webp 2x, {image}_l.webp 3x">'
        f'<img class="card__image" src="{image}_s.jpg" alt="{name}" width="200" height="150"'
        f' loading="lazy" decoding="async"></picture>'
        f'<h3 class="card__title">{name}</h3></a>'
        f'<p class="card__meta"><span class="card__location">{_TOWNS[n % len(_TOWNS)]}</span>'
        f' · <time datetime="2020-03-{1 + n % 28:02d}">{1 + n % 28:02d}.03.2020</time></p>'
        f'<p class="card__rating" aria-label="4 von 5 Sternen">{_STAR * 4}</p>'
        f'<p class="card__price"><span class="card__amount">{40 + n % 300},- €</span>'
        f' <span class="card__badge">VB</span></p>'
        f'<button class="card__fav" type="button" aria-label="Merken"'
        f" onclick=\"toggleFavourite('c{n:09d}')\">{_HEART}</button>"
        f"</article></li>"
    )


def _section(start: int, title: str, cards: int = 24) -> str:
    items = "".join(_card(n) for n in range(start, start + cards))
    return (
        f'<section class="recommendations product-grid" data-widget="similar-ads">'
        f'<h2 class="section-title">{title}</h2><ul class="grid grid--4">{items}</ul></section>'
    )


def pad_page(html: str, target_bytes: int) -> str:
    """``html`` with product-grid sections added before ``</body>`` up to ``target_bytes``."""
    titles = ["Ähnliche Anzeigen", "Zuletzt angesehen", "Das könnte Sie auch interessieren"]
    sections: list[str] = []
    size = len(html.encode("utf-8"))
    n = 0
    while size < target_bytes:
        section = _section(n * 24, titles[n % len(titles)])
        sections.append(section)
        size += len(section.encode("utf-8"))
        n += 1
    padding = "".join(sections)
    cut = html.lower().rfind("</body>")
    return html + padding if cut < 0 else html[:cut] + padding + html[cut:]
