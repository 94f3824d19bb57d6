/* BuyHive's service worker: the one place that holds the tokens and talks to the API.
 *
 * Chrome stops this worker when idle and starts it again for the next event, so nothing here
 * lives in memory for long: tokens are in chrome.storage.session (kept while the browser runs,
 * never written to disk, not readable by content scripts), the watch list and the
 * per-page observation times in chrome.storage.local.
 *
 * Every API call from the popup comes here ({type: "api"}), so exactly one place refreshes
 * tokens. Refresh tokens rotate (the old one stops working, and presenting a used one again
 * makes the backend revoke every session of the user), so two refreshes must never race:
 * concurrent callers share one refresh in flight. A refresh the API refuses signs the user
 * out cleanly (tokens dropped, badge cleared, the popup told).
 */
"use strict";

importScripts("lib/config.js", "lib/errors.js", "lib/match.js");

const { DEFAULTS } = BuyHiveConfig;
const AUTH_KEY = "auth"; // chrome.storage.session: {access, refresh, accessExpiresAt, user}
const WATCH_KEY = "watchList"; // chrome.storage.local: {userId, etag, fetchedAt, drop_params, items, unsupportedUntil}
const OBSERVED_KEY = "observed"; // chrome.storage.local: {matchKey: epoch ms of the last post}
const HOLD_KEY = "retryAfter"; // chrome.storage.session: {group: epoch ms before which not to call}
const BADGE_ALARM = "badge-poll";
const WATCH_SCRIPT_ID = "buyhive-watch";

// ------------------------------------------------------------------------- settings, storage

async function getSetting(name) {
  const stored = await chrome.storage.local.get(name);
  return stored[name] || DEFAULTS[name];
}

async function apiBase() {
  return String(await getSetting("apiBase")).replace(/\/+$/, "");
}

async function getAuth() {
  const stored = await chrome.storage.session.get(AUTH_KEY);
  return stored[AUTH_KEY] || null;
}

async function setAuth(tokens, user) {
  const previous = await getAuth();
  const auth = {
    access: tokens.access,
    refresh: tokens.refresh,
    accessExpiresAt: Date.now() + (tokens.access_expires_in || 300) * 1000,
    user: user || (previous && previous.user) || null,
  };
  await chrome.storage.session.set({ [AUTH_KEY]: auth });
  return auth;
}

async function signOutLocally(reason) {
  await chrome.storage.session.remove([AUTH_KEY, HOLD_KEY]);
  await chrome.storage.local.remove([WATCH_KEY, OBSERVED_KEY]);
  await chrome.action.setBadgeText({ text: "" });
  // The popup, when open, shows the sign-in form with the reason; nobody listening is fine.
  chrome.runtime.sendMessage({ type: "signed-out", reason: reason || null }).catch(() => {});
}

// ------------------------------------------------------------------------------ HTTP

/** What a Retry-After applies to: the endpoint (its path without the query). */
function holdGroup(path) {
  return path.replace(/^\/+/, "").split("?")[0] || "root";
}

async function heldFor(group) {
  const holds = (await chrome.storage.session.get(HOLD_KEY))[HOLD_KEY] || {};
  const until = holds[group] || 0;
  return until > Date.now() ? Math.ceil((until - Date.now()) / 1000) : 0;
}

async function hold(group, seconds) {
  const holds = (await chrome.storage.session.get(HOLD_KEY))[HOLD_KEY] || {};
  holds[group] = Date.now() + seconds * 1000;
  await chrome.storage.session.set({ [HOLD_KEY]: holds });
}

/**
 * One HTTP exchange with the API: {ok, status, data, etag, error}. Never throws; `error` is
 * what the user reads (lib/errors.js).
 */
async function rawFetch(method, path, { body, access, etag, login = false } = {}) {
  const group = holdGroup(path);
  const wait = await heldFor(group);
  if (wait > 0) {
    // The API said when to come back (Retry-After): asking earlier would only be refused.
    return { ok: false, status: 429, data: null, error: { ...BuyHiveErrors.fromResponse(429, null, String(wait)) } };
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (access) headers.Authorization = "Bearer " + access;
  if (etag) headers["If-None-Match"] = etag;
  let response;
  try {
    response = await fetch((await apiBase()) + "/api/v1/" + path.replace(/^\/+/, ""), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (_) {
    return { ok: false, status: 0, data: null, error: BuyHiveErrors.network() };
  }
  let data = null;
  if (response.status !== 204 && response.status !== 304) {
    try {
      data = await response.json();
    } catch (_) {
      data = null; // a proxy's HTML error page: the status still says what happened
    }
  }
  const result = { ok: response.ok || response.status === 304, status: response.status, data, etag: response.headers.get("ETag") };
  if (!result.ok) {
    result.error = BuyHiveErrors.fromResponse(response.status, data, response.headers.get("Retry-After"), { login });
    if (response.status === 429) await hold(group, result.error.retryAfter);
  }
  return result;
}

let refreshInFlight = null;

/** Exchange the refresh token once, whoever asks; null when signed out. */
function refreshTokens() {
  if (!refreshInFlight) {
    refreshInFlight = (async () => {
      const auth = await getAuth();
      if (!auth || !auth.refresh) return { auth: null, error: BuyHiveErrors.fromResponse(401, null, null) };
      const answer = await rawFetch("POST", "auth/refresh/", { body: { refresh: auth.refresh } });
      if (answer.ok && answer.data && answer.data.access) {
        return { auth: await setAuth(answer.data, auth.user), error: null };
      }
      if (answer.status === 401 || answer.status === 400) {
        // Refused (expired, revoked, reused): the session is over. Sign out cleanly.
        await signOutLocally("session-ended");
        return { auth: null, error: BuyHiveErrors.fromResponse(401, null, null) };
      }
      // Network down, 429, 5xx: keep the tokens and say what happened; the next call retries.
      return { auth: null, error: answer.error };
    })().finally(() => {
      refreshInFlight = null;
    });
  }
  return refreshInFlight;
}

/** An authenticated call: refreshes before an expiring token and once on a 401. */
async function apiCall(method, path, { body, etag } = {}) {
  let auth = await getAuth();
  if (!auth) return { ok: false, status: 401, data: null, error: BuyHiveErrors.fromResponse(401, null, null) };
  if (auth.accessExpiresAt && auth.accessExpiresAt - BuyHiveConfig.ACCESS_SKEW_MS < Date.now()) {
    const refreshed = await refreshTokens();
    if (!refreshed.auth) return { ok: false, status: refreshed.error.status, data: null, error: refreshed.error };
    auth = refreshed.auth;
  }
  let answer = await rawFetch(method, path, { body, etag, access: auth.access });
  if (answer.status === 401) {
    const current = await getAuth();
    let next = current;
    // Another call may have refreshed meanwhile: then its new token is simply used.
    if (!current || current.access === auth.access) {
      const refreshed = await refreshTokens();
      if (!refreshed.auth) return { ok: false, status: refreshed.error.status, data: null, error: refreshed.error };
      next = refreshed.auth;
    }
    answer = await rawFetch(method, path, { body, etag, access: next.access });
    if (answer.status === 401) await signOutLocally("session-ended");
  }
  return answer;
}

// ------------------------------------------------------------------------------ sign-in

async function signedIn(answer) {
  if (!answer.ok) return { ok: false, error: answer.error };
  await setAuth(answer.data, answer.data.user);
  await chrome.storage.local.remove([WATCH_KEY, OBSERVED_KEY]);
  ensureBadgeAlarm();
  refreshBadge();
  return { ok: true, user: answer.data.user };
}

async function login(email, password) {
  return signedIn(await rawFetch("POST", "auth/login/", { body: { email, password }, login: true }));
}

async function register(email, password) {
  return signedIn(await rawFetch("POST", "auth/register/", { body: { email, password } }));
}

function randomToken() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function jwtPayload(token) {
  const part = token.split(".")[1] || "";
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))));
}

/**
 * Google sign-in: an ID token (OpenID Connect implicit flow, response_type=id_token) with a
 * nonce we check, through chrome.identity.launchWebAuthFlow. getAuthToken would only give an
 * OAuth access token, which the backend's auth/google/ does not take.
 */
async function googleSignIn() {
  const clientId = await getSetting("googleClientId");
  if (!clientId) {
    return { ok: false, error: { message: "Google sign-in is not set up in this copy of BuyHive. Use your email and password." } };
  }
  const nonce = randomToken();
  const state = randomToken();
  const redirectUri = chrome.identity.getRedirectURL();
  const url = new URL("https://accounts.google.com/o/oauth2/v2/auth");
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: "id_token",
    redirect_uri: redirectUri,
    scope: "openid email profile",
    nonce,
    state,
    prompt: "select_account",
  }).toString();
  let redirected;
  try {
    redirected = await chrome.identity.launchWebAuthFlow({ url: url.toString(), interactive: true });
  } catch (_) {
    return { ok: false, error: { message: "Google sign-in was closed before it finished." } };
  }
  const fragment = new URLSearchParams(new URL(redirected).hash.slice(1));
  const idToken = fragment.get("id_token");
  if (!idToken || fragment.get("state") !== state) {
    return { ok: false, error: { message: "Google sign-in did not complete. Please try again." } };
  }
  let claims;
  try {
    claims = jwtPayload(idToken);
  } catch (_) {
    claims = {};
  }
  if (claims.nonce !== nonce) {
    // Not the token this sign-in asked for (a replayed or injected one): refuse it.
    return { ok: false, error: { message: "Google sign-in did not complete. Please try again." } };
  }
  return signedIn(await rawFetch("POST", "auth/google/", { body: { id_token: idToken }, login: true }));
}

async function logout() {
  const auth = await getAuth();
  if (auth && auth.refresh) {
    // The API revokes the refresh token; signing out on this device happens either way.
    await rawFetch("POST", "auth/logout/", { body: { refresh: auth.refresh } });
  }
  await signOutLocally(null);
  return { ok: true };
}

// ------------------------------------------------------------------------- the watch list

/**
 * The cached watch list, revalidated with its ETag when older than WATCH_LIST_MAX_AGE_MS (or
 * when `force`). A backend without the price watch (404) gives an empty list for an hour.
 */
async function watchList({ force = false } = {}) {
  const auth = await getAuth();
  if (!auth) return { drop_params: [], items: [] };
  const stored = (await chrome.storage.local.get(WATCH_KEY))[WATCH_KEY];
  const mine = stored && auth.user && stored.userId === auth.user.id ? stored : null;
  const now = Date.now();
  if (mine && mine.unsupportedUntil && mine.unsupportedUntil > now && !force) return { drop_params: [], items: [] };
  if (mine && !force && now - mine.fetchedAt < BuyHiveConfig.WATCH_LIST_MAX_AGE_MS) return mine;
  const answer = await apiCall("GET", "watch/urls/", { etag: mine && mine.etag ? mine.etag : undefined });
  let next = mine;
  if (answer.status === 304 && mine) {
    next = { ...mine, fetchedAt: now };
  } else if (answer.ok && answer.data) {
    next = {
      userId: auth.user && auth.user.id,
      etag: answer.etag || null,
      fetchedAt: now,
      drop_params: answer.data.drop_params || [],
      items: answer.data.items || [],
    };
  } else if (answer.status === 404) {
    next = { userId: auth.user && auth.user.id, etag: null, fetchedAt: now, drop_params: [], items: [], unsupportedUntil: now + 3600 * 1000 };
  } else {
    return mine || { drop_params: [], items: [] }; // keep what we had; try again next time
  }
  await chrome.storage.local.set({ [WATCH_KEY]: next });
  return next;
}

async function forgetWatchList() {
  const stored = (await chrome.storage.local.get(WATCH_KEY))[WATCH_KEY];
  if (stored) await chrome.storage.local.set({ [WATCH_KEY]: { ...stored, fetchedAt: 0, unsupportedUntil: 0 } });
}

/**
 * A content script saw a saved product's page. `pageUrl` is the sender's own URL (not what
 * the message claims). At most one post per page per OBSERVE_INTERVAL_MS; nothing at all for
 * a page that is not on the watch list.
 */
async function observe(pageUrl, html, text, title) {
  const list = await watchList();
  const item = BuyHiveMatch.findItem(pageUrl, list);
  if (!item) return { ok: true, posted: false, reason: "not-watched" };
  const key = BuyHiveMatch.matchKey(pageUrl, list.drop_params);
  const observed = (await chrome.storage.local.get(OBSERVED_KEY))[OBSERVED_KEY] || {};
  const now = Date.now();
  for (const [page, at] of Object.entries(observed)) {
    if (now - at >= BuyHiveConfig.OBSERVE_INTERVAL_MS) delete observed[page];
  }
  if (observed[key]) return { ok: true, posted: false, reason: "recently-observed" };
  observed[key] = now; // taken before the post, so two tabs of one page cannot both post
  await chrome.storage.local.set({ [OBSERVED_KEY]: observed });
  const body = { url: pageUrl };
  if (html) body.html = html;
  if (text) body.text = text;
  if (typeof title === "string" && title) body.title = title.slice(0, BuyHiveConfig.TITLE_MAX_CHARS);
  const answer = await apiCall("POST", "watch/observations/", { body });
  if (!answer.ok) {
    if (answer.status === 0 || answer.status >= 500) {
      delete observed[key]; // not recorded: the next visit may try again
      await chrome.storage.local.set({ [OBSERVED_KEY]: observed });
    }
    return { ok: false, posted: false, error: answer.error };
  }
  await chrome.storage.local.set({ lastObservation: { itemId: item.item_id, at: now, result: answer.data } });
  if (answer.data && answer.data.changed && Object.keys(answer.data.changed).length) {
    // An alert may have fired (the notification is written by the backend's worker): look
    // now and again shortly, instead of waiting for the next poll.
    refreshBadge();
    setTimeout(refreshBadge, 5000);
  }
  return { ok: true, posted: true, result: answer.data };
}

// ------------------------------------------------------------------------------- badge

async function refreshBadge() {
  const auth = await getAuth();
  if (!auth) {
    await chrome.action.setBadgeText({ text: "" });
    return { ok: true, count: 0 };
  }
  const answer = await apiCall("GET", "notifications/?unread=true&limit=1");
  if (!answer.ok) {
    if (answer.status === 404) await chrome.action.setBadgeText({ text: "" });
    return { ok: false, error: answer.error };
  }
  const count = answer.data && typeof answer.data.count === "number" ? answer.data.count : 0;
  await chrome.action.setBadgeBackgroundColor({ color: "#c2410c" });
  await chrome.action.setBadgeText({ text: count > 99 ? "99+" : count > 0 ? String(count) : "" });
  return { ok: true, count };
}

async function ensureBadgeAlarm() {
  const existing = await chrome.alarms.get(BADGE_ALARM);
  if (!existing) chrome.alarms.create(BADGE_ALARM, { periodInMinutes: BuyHiveConfig.BADGE_POLL_MINUTES, delayInMinutes: 0.5 });
}

chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === BADGE_ALARM) refreshBadge();
});

// ------------------------------------------------------------ the watch content script

/**
 * The watch script runs on the shops the user let BuyHive see: the origins granted at run
 * time (optional host permissions asked for on the first save at a shop) plus the local
 * origins of host_permissions. Registered dynamically, so a newly granted shop needs no
 * reinstall.
 */
let syncChain = Promise.resolve();

/** One sync at a time: two overlapping ones would both register the script (a duplicate id). */
function syncWatchScript() {
  syncChain = syncChain.then(doSyncWatchScript).catch((e) => console.warn("BuyHive watch script:", e));
  return syncChain;
}

async function doSyncWatchScript() {
  const { origins = [] } = await chrome.permissions.getAll();
  const matches = origins.filter((o) => /^https?:\/\//.test(o));
  const registered = await chrome.scripting.getRegisteredContentScripts({ ids: [WATCH_SCRIPT_ID] });
  if (!matches.length) {
    if (registered.length) await chrome.scripting.unregisterContentScripts({ ids: [WATCH_SCRIPT_ID] });
    return;
  }
  const script = {
    id: WATCH_SCRIPT_ID,
    matches,
    js: ["lib/config.js", "lib/match.js", "lib/capture.js", "watch.js"],
    runAt: "document_idle",
    allFrames: false,
    persistAcrossSessions: true,
  };
  if (registered.length) await chrome.scripting.updateContentScripts([script]);
  else await chrome.scripting.registerContentScripts([script]);
}

let ready = null;
function setUp() {
  if (!ready) ready = Promise.all([syncWatchScript(), ensureBadgeAlarm()]).catch((e) => console.warn("BuyHive setup:", e));
  return ready;
}

chrome.runtime.onInstalled.addListener(() => setUp());
chrome.runtime.onStartup.addListener(() => {
  setUp();
  refreshBadge();
});
chrome.permissions.onAdded.addListener(() => syncWatchScript());
chrome.permissions.onRemoved.addListener(() => syncWatchScript());

// ------------------------------------------------------------------------------ messages

function fromExtensionPage(sender) {
  return sender.id === chrome.runtime.id && typeof sender.url === "string" && sender.url.startsWith(chrome.runtime.getURL(""));
}

async function handle(message, sender) {
  if (sender.id !== chrome.runtime.id || !message || typeof message.type !== "string") return { ok: false };
  // Content scripts (pages of shops) may only read the watch list and report an observation.
  if (message.type === "watch-list") return watchList();
  if (message.type === "observe") {
    if (!sender.tab || sender.frameId !== 0 || typeof sender.url !== "string") return { ok: false };
    return observe(sender.url, message.html, message.text, message.title);
  }
  if (!fromExtensionPage(sender)) return { ok: false };
  switch (message.type) {
    case "session": {
      const auth = await getAuth();
      return { ok: true, user: auth ? auth.user : null };
    }
    case "login":
      return login(message.email, message.password);
    case "register":
      return register(message.email, message.password);
    case "google-sign-in":
      return googleSignIn();
    case "logout":
      return logout();
    case "api":
      return apiCall(message.method || "GET", message.path, { body: message.body });
    case "watch-refresh":
      await forgetWatchList();
      return watchList({ force: true });
    case "badge":
      return refreshBadge();
    default:
      return { ok: false };
  }
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  handle(message, sender).then(sendResponse, (error) => {
    console.error("BuyHive:", error);
    sendResponse({ ok: false, error: { message: BuyHiveErrors.MESSAGES.unexpected } });
  });
  return true; // answered asynchronously
});

setUp();
