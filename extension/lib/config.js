/* BuyHive extension settings: the defaults, overridable in chrome.storage.local.
 *
 * `apiBase` is the backend's origin (the test contract: chrome.storage.local key `apiBase`,
 * default http://127.0.0.1:8000). `googleClientId` is the OAuth client of type "Web
 * application" whose authorised redirect URI is https://<extension id>.chromiumapp.org/
 * (see README.md, "Google sign-in"). Loaded as a classic script by the service worker
 * (importScripts) and the popup (<script>), so it defines a global.
 */
"use strict";

globalThis.BuyHiveConfig = Object.freeze({
  DEFAULTS: Object.freeze({
    apiBase: "http://127.0.0.1:8000",
    googleClientId: "",
  }),
  /** How long the cached watch list is trusted before it is revalidated (ETag). */
  WATCH_LIST_MAX_AGE_MS: 10 * 60 * 1000,
  /** At most one observation per page per this many milliseconds. */
  OBSERVE_INTERVAL_MS: 60 * 60 * 1000,
  /** The badge poll (chrome.alarms; Chrome allows 30 s at the least). */
  BADGE_POLL_MINUTES: 1,
  /** Refresh the access token this long before it expires. */
  ACCESS_SKEW_MS: 15 * 1000,
  /** The API takes a page's document title up to this long (capture.js cuts it the same). */
  TITLE_MAX_CHARS: 1000,
});
