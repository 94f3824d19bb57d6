/* The price watch's content script, on the shops the user let BuyHive see.
 *
 * It asks the service worker for the watch list (cached there, revalidated with its ETag),
 * builds this page's match string locally (lib/match.js) and stops there unless the page is
 * one of the user's saved products: for any other page nothing is sent anywhere. On a saved
 * product's page it waits for the page to settle (prices are often rendered by scripts),
 * captures it like the popup does, and hands it to the service worker, which posts at most
 * one observation per page per hour.
 */
"use strict";

(async () => {
  if (window.top !== window) return;
  const SETTLE_MS = 1500;
  let list;
  try {
    list = await chrome.runtime.sendMessage({ type: "watch-list" });
  } catch (_) {
    return; // the extension was reloaded or updated: this page's script is orphaned
  }
  if (!BuyHiveMatch.findItem(location.href, list)) return;
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const page = BuyHiveCapture.capture();
  try {
    await chrome.runtime.sendMessage({ type: "observe", html: page.html, text: page.text, title: page.title });
  } catch (_) {
    /* the extension went away meanwhile */
  }
})();
