/* The page as the user sees it, made small enough to send: BuyHiveCapture.capture().
 *
 * Injected into the shop's tab (chrome.scripting.executeScript by the popup; the watch
 * content script for observations). It reads the *rendered* DOM (what the page's scripts
 * built, not the network response), then trims a detached copy so typical shop pages fit the
 * API's limits (html at most 2 MiB characters, the whole body at most 4 MB):
 *
 *   1. always: scripts (JSON-LD kept: it is the most reliable product data), styles and
 *      stylesheet links, SVG, noscript, iframes, templates, canvas, media, comments, cookie
 *      consent dialogs (their vendor lists alone reach 1.3 MB on real pages), inline styles
 *      and event-handler attributes;
 *   2. still too large: elements the user cannot see, data-/aria- attributes and srcset;
 *   3. still too large: the largest subtrees that hold none of the product's own markup
 *      (h1, microdata, JSON-LD, Open Graph), largest first; last resort, a cut at the limit.
 *
 * With it go the visible text (innerText, what the user read) and the images the user saw
 * (Open Graph image first, then visible images, largest first).
 */
"use strict";

(() => {
  const HTML_MAX_CHARS = 1900000; // the API takes 2,097,152 characters of html
  const HTML_MAX_JSON_BYTES = 3400000; // and 4 MB for the whole JSON body (text and images too)
  const TEXT_MAX_CHARS = 150000; // the API takes 200,000
  const TITLE_MAX_CHARS = 1000; // the API takes 1,000
  const MAX_IMAGES = 20; // the API takes 50
  const MIN_IMAGE_SIDE = 50;

  const DROP_ALWAYS = [
    "script:not([type='application/ld+json'])",
    "style",
    "link:not([rel='canonical']):not([rel='alternate'])",
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
  ].join(",");
  const CONSENT = /(^|[\s_-])(cookie|cookies|consent|gdpr|onetrust|cookiebot|didomi|usercentrics|truste|qc-cmp|cmp)([\s_-]|$)|CybotCookiebot|onetrust|cookie-?law|cookie-?banner|cookie-?consent/i;
  const KEEP = "h1,[itemprop],[itemscope],script[type='application/ld+json'],meta[property^='og:'],[data-price]";
  const PRICEY_DATA = /price|sku|gtin|ean|mpn|currency|availability|product/i;

  const encoder = new TextEncoder();

  function jsonBytes(value) {
    return encoder.encode(JSON.stringify(value)).length;
  }

  function serialize(root) {
    return "<!DOCTYPE html>\n" + root.outerHTML;
  }

  function fits(html) {
    return html.length <= HTML_MAX_CHARS && jsonBytes(html) <= HTML_MAX_JSON_BYTES;
  }

  function removeComments(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_COMMENT);
    const comments = [];
    while (walker.nextNode()) comments.push(walker.currentNode);
    for (const node of comments) node.remove();
  }

  function isConsent(el) {
    const id = el.id || "";
    const cls = typeof el.className === "string" ? el.className : "";
    return CONSENT.test(id) || CONSENT.test(cls);
  }

  function stripAttributes(root, test) {
    for (const el of root.querySelectorAll("*")) {
      for (const name of el.getAttributeNames()) {
        if (test(name)) el.removeAttribute(name);
      }
    }
  }

  function hasKeeper(el) {
    return el.matches(KEEP) || el.querySelector(KEEP) !== null;
  }

  /** Stage 1: what must never be sent. */
  function trimAlways(clone) {
    for (const el of clone.querySelectorAll(DROP_ALWAYS)) el.remove();
    removeComments(clone);
    for (const el of clone.querySelectorAll("body [id], body [class]")) {
      // The copy is detached: "still in it" is clone.contains, not isConnected.
      if (clone.contains(el) && isConsent(el) && !hasKeeper(el)) el.remove();
    }
    stripAttributes(clone, (name) => name === "style" || name.startsWith("on") || name === "nonce" || name === "integrity");
  }

  /** Stage 2: what the user could not see, and attributes no extractor reads. */
  function trimHidden(clone, pairs) {
    for (const [live, copy] of pairs) {
      if (!clone.contains(copy) || copy.closest("head")) continue;
      let visible = true;
      try {
        visible = live.checkVisibility ? live.checkVisibility() : live.getClientRects().length > 0;
      } catch (_) {
        visible = true;
      }
      if (!visible && !hasKeeper(copy)) copy.remove();
    }
  }

  function trimAttributes(clone) {
    stripAttributes(
      clone,
      (name) =>
        name === "srcset" ||
        name === "sizes" ||
        name.startsWith("aria-") ||
        (name.startsWith("data-") && !PRICEY_DATA.test(name)),
    );
  }

  /** Stage 3: the largest subtrees without the product's markup, largest first. */
  function trimLargest(body, excess) {
    const queue = [body];
    while (excess > 0 && queue.length) {
      const el = queue.shift();
      const children = Array.from(el.children)
        .map((child) => [child, child.outerHTML.length])
        .sort((a, b) => b[1] - a[1]);
      for (const [child, size] of children) {
        if (excess <= 0) break;
        if (hasKeeper(child)) {
          queue.push(child);
          continue;
        }
        child.remove();
        excess -= size;
      }
    }
  }

  function absoluteHttp(url) {
    try {
      const abs = new URL(url, location.href);
      if ((abs.protocol === "http:" || abs.protocol === "https:") && abs.href.length <= 2000) return abs.href;
    } catch (_) {
      /* not a URL */
    }
    return null;
  }

  function seenImages() {
    const urls = [];
    const seen = new Set();
    const add = (url) => {
      const abs = url && absoluteHttp(url);
      if (abs && !seen.has(abs)) {
        seen.add(abs);
        urls.push(abs);
      }
    };
    for (const meta of document.querySelectorAll("meta[property='og:image'], meta[name='twitter:image']")) {
      add(meta.getAttribute("content"));
    }
    const candidates = [];
    for (const img of document.images) {
      const rect = img.getBoundingClientRect();
      const width = rect.width || img.naturalWidth;
      const height = rect.height || img.naturalHeight;
      if (width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE) continue;
      if (img.checkVisibility && !img.checkVisibility()) continue;
      const loaded = img.complete && img.naturalWidth > 0;
      // What the user saw: the first screens of the page count most, then loaded images.
      const seenOnScreen = rect.top < innerHeight * 1.5 && rect.bottom > 0;
      const score = width * height * (loaded ? 2 : 1) * (seenOnScreen ? 4 : 1);
      candidates.push({ url: img.currentSrc || img.src, score });
    }
    candidates.sort((a, b) => b.score - a.score);
    for (const candidate of candidates) add(candidate.url);
    return urls.slice(0, MAX_IMAGES);
  }

  function visibleText() {
    const raw = document.body ? document.body.innerText || "" : "";
    return raw
      .replace(/[ \t\u00a0]+/g, " ")
      .replace(/ ?\n ?/g, "\n")
      .replace(/\n{3,}/g, "\n\n")
      .trim()
      .slice(0, TEXT_MAX_CHARS);
  }

  function capture() {
    const started = performance.now();
    const live = document.documentElement;
    const rendered = live.outerHTML.length;
    const clone = live.cloneNode(true);
    // Pairs of (live element, its copy) in document order, taken before the copy changes, so
    // visibility can be asked of the live element when stage 2 needs it.
    const liveEls = live.getElementsByTagName("*");
    const copyEls = clone.getElementsByTagName("*");
    const pairs = [];
    if (liveEls.length === copyEls.length) {
      for (let i = 0; i < liveEls.length; i++) pairs.push([liveEls[i], copyEls[i]]);
    }
    const stages = ["always"];
    trimAlways(clone);
    let html = serialize(clone);
    if (!fits(html)) {
      stages.push("hidden");
      trimHidden(clone, pairs);
      trimAttributes(clone);
      html = serialize(clone);
    }
    if (!fits(html)) {
      stages.push("largest");
      const body = clone.querySelector("body");
      if (body) trimLargest(body, html.length - HTML_MAX_CHARS + 1000);
      html = serialize(clone);
    }
    if (!fits(html)) {
      stages.push("cut");
      html = html.slice(0, HTML_MAX_CHARS);
      while (!fits(html)) html = html.slice(0, Math.floor(html.length * 0.9));
    }
    return {
      url: location.href,
      // Sent beside the text: the body's innerText does not hold the document's title.
      title: (document.title || "").slice(0, TITLE_MAX_CHARS),
      html,
      text: visibleText(),
      image_urls: seenImages(),
      stats: {
        rendered_chars: rendered,
        sent_chars: html.length,
        stages,
        ms: Math.round(performance.now() - started),
      },
    };
  }

  /** The cheap part: what the popup shows before anything is sent. */
  function describe() {
    return { url: location.href, title: document.title || "" };
  }

  globalThis.BuyHiveCapture = Object.freeze({ capture, describe });
})();
