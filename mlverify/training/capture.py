"""The page as the browser extension sends it, from the page as it was served.

The page check serves the extension: ``extract/`` and ``classify/url/`` receive what
``extension/lib/capture.js`` makes of the tab, never the network response. Its first stage
always runs: no script but JSON-LD, no style, no ``<link>`` but canonical and alternate, no
SVG, ``<noscript>``, frame, template, canvas or media, no comments, no cookie-consent dialog,
no inline style or event-handler attribute. So a feature that reads inline scripts or a
``<link rel="next">`` is never set at serving time, whatever the served page carried, and a
head trained on served pages reads its training pages differently from its users' pages.

:func:`as_extension_sends` applies that first stage to a parsed page, so the head is trained
and measured on what it will serve. The later stages (what the user could not see, the
largest subtrees) need the rendered page and run only on pages too large to send; the
script-drawn content the extension captures after it rendered is not in the served page
either. A browser test (``e2e/test_capture.py``) checks that this mirror and the real
capture give the same page-check features.
"""

from __future__ import annotations

import copy
import re

from lxml import etree
from lxml.html import HtmlElement

# capture.js DROP_ALWAYS
_DROP_TAGS = frozenset(
    {
        "script",
        "style",
        "link",
        "svg",
        "noscript",
        "iframe",
        "frame",
        "template",
        "canvas",
        "object",
        "embed",
        "video",
        "audio",
        "track",
    }
)
_KEPT_SCRIPT_TYPE = "application/ld+json"
_KEPT_LINK_RELS = frozenset({"canonical", "alternate"})
# capture.js CONSENT and KEEP
_CONSENT = re.compile(
    r"(^|[\s_-])(cookie|cookies|consent|gdpr|onetrust|cookiebot|didomi|usercentrics|truste"
    r"|qc-cmp|cmp)([\s_-]|$)|CybotCookiebot|onetrust|cookie-?law|cookie-?banner"
    r"|cookie-?consent",
    re.I,
)
_KEEPER_XPATH = (
    "descendant-or-self::*[self::h1 or @itemprop or @itemscope or @data-price"
    " or (self::script and @type='application/ld+json')"
    " or (self::meta and starts-with(@property, 'og:'))]"
)


def _tag(el: etree._Element) -> str:
    return el.tag.lower() if isinstance(el.tag, str) else ""


def _dropped(el: etree._Element) -> bool:
    tag = _tag(el)
    if tag not in _DROP_TAGS:
        return False
    if tag == "script":
        return (el.get("type") or "").strip().lower() != _KEPT_SCRIPT_TYPE
    if tag == "link":
        return (el.get("rel") or "").strip().lower() not in _KEPT_LINK_RELS
    return True


def _is_consent(el: etree._Element) -> bool:
    return bool(_CONSENT.search(el.get("id") or "") or _CONSENT.search(el.get("class") or ""))


def as_extension_sends(doc: HtmlElement) -> HtmlElement:
    """A copy of ``doc`` trimmed as ``capture.js`` always trims the page it sends."""
    page = copy.deepcopy(doc)
    # drop_tree: the subtree goes, the text after it (its tail) stays where it was
    for el in [e for e in page.iter() if _dropped(e) or isinstance(e, etree._Comment)]:
        el.drop_tree()
    body = page.find(".//body")
    stack = [] if body is None else list(reversed(body))
    while stack:  # document order; a removed dialog's descendants are not visited
        el = stack.pop()
        if not isinstance(el.tag, str):
            continue
        if _is_consent(el) and not el.xpath(_KEEPER_XPATH):
            el.drop_tree()
        else:
            stack.extend(reversed(el))
    for el in page.iter():
        if not isinstance(el.tag, str):
            continue
        for name in list(el.attrib):
            if name in ("style", "nonce", "integrity") or name.startswith("on"):
                del el.attrib[name]
    return page
