/* The watch list's `match` string, built from a tab's URL exactly as the backend builds it
 * from a saved item's URL (architecture.md, "Price and stock watch", GET watch/urls/):
 *
 *   host (lower case, no "www.") + path (no trailing slash) + the query parameters left
 *   after removing those named in drop_params and any starting "utm_", sorted, as
 *   "?a=1&b=2" (no "?" when none are left).
 *
 * The host is the URL's hostname (no port). Parameter names are compared to drop_params
 * case-insensitively; pairs are sorted by name, then value, and encoded as Python's
 * urllib.parse.urlencode does (quote_plus), so "a b" is "a+b" on both sides.
 *
 * Used by the content script (watch.js), the popup and the service worker: a classic script
 * that defines a global.
 */
"use strict";

(() => {
  function quotePlus(value) {
    return encodeURIComponent(value)
      .replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase())
      .replace(/%20/g, "+");
  }

  function matchKey(url, dropParams) {
    let parsed;
    try {
      parsed = new URL(url);
    } catch (_) {
      return null;
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
    let host = parsed.hostname.toLowerCase();
    if (host.startsWith("www.")) host = host.slice(4);
    let path = parsed.pathname;
    while (path.endsWith("/")) path = path.slice(0, -1);
    const drop = new Set((dropParams || []).map((name) => String(name).toLowerCase()));
    const pairs = [];
    for (const [name, value] of parsed.searchParams) {
      const lower = name.toLowerCase();
      if (lower.startsWith("utm_") || drop.has(lower)) continue;
      pairs.push([name, value]);
    }
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const query = pairs.map(([k, v]) => quotePlus(k) + "=" + quotePlus(v)).join("&");
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
