/* The watch list's `match` string, built from a tab's URL exactly as the backend builds it
 * from a saved item's URL (architecture.md, "Price and stock watch", GET watch/urls/):
 *
 *   host (lower case, no "www.") + path (no trailing slash) + the query parameters left
 *   after removing those named in drop_params and any starting "utm_", sorted, as
 *   "?a=1&b=2" (no "?" when none are left).
 *
 * The host is the URL's hostname (punycode for a non-ASCII name, no port, no trailing dot).
 * Parameter names are compared to drop_params lower-cased; pairs are sorted by name only
 * (a stable sort: repeated names keep the page's order) and written with
 * encodeURIComponent, as the backend's carts/watch/matching.py writes them.
 *
 * Used by the content script (watch.js), the popup and the service worker: a classic script
 * that defines a global.
 */
"use strict";

(() => {
  function matchKey(url, dropParams) {
    let parsed;
    try {
      parsed = new URL(url);
    } catch (_) {
      return null;
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
    let host = parsed.hostname.toLowerCase().replace(/\.+$/, "");
    if (!host) return null;
    if (host.startsWith("www.")) host = host.slice(4);
    let path = parsed.pathname;
    while (path.endsWith("/")) path = path.slice(0, -1);
    const drop = new Set((dropParams || []).map((name) => String(name).toLowerCase()));
    const pairs = [];
    for (const [name, value] of parsed.searchParams) {
      if (!name) continue;
      const lower = name.toLowerCase();
      if (lower.startsWith("utm_") || drop.has(lower)) continue;
      pairs.push([name, value]);
    }
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const query = pairs.map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
    return host + path + (query ? "?" + query : "");
  }

  /** The watch-list item whose `match` is this URL's, or null. */
  function findItem(url, watchList) {
    if (!watchList || !Array.isArray(watchList.items) || watchList.items.length === 0) return null;
    const key = matchKey(url, watchList.drop_params);
    if (!key) return null;
    return watchList.items.find((item) => item.match === key) || null;
  }

  globalThis.BuyHiveMatch = Object.freeze({ matchKey, findItem });
})();
