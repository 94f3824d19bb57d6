/* The popup: sign-in, the page check, the carts, Save, a saved product's price change, and
 * (on a page the check calls a grid) sending that page for a person to review.
 *
 * It acts on the active tab, or on tab N when opened as popup.html?tabId=N (the test
 * contract). Every API call goes through the service worker (background.js), which holds the
 * tokens; this page only shows what comes back. Any failure shows the sentence the worker
 * wrote for it (lib/errors.js), so nothing fails silently.
 */
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { tabId: null, page: null, originPattern: null, originGranted: true, saving: false, holdTimer: null };

function send(message) {
  return chrome.runtime.sendMessage(message);
}

function api(method, path, body) {
  return send({ type: "api", method, path, body });
}

function show(el, visible) {
  el.hidden = !visible;
}

function notice(text) {
  $("notice").textContent = text || "";
  show($("notice"), Boolean(text));
}

function formatPrice(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "";
  const value = Number(amount);
  if (currency && /^[A-Z]{3}$/.test(currency) && Number.isFinite(value)) {
    try {
      return new Intl.NumberFormat("en", { style: "currency", currency, currencyDisplay: "code" })
        .format(value)
        .replace(/\u00a0/g, " ");
    } catch (_) {
      /* an unknown code: fall through */
    }
  }
  return String(amount) + (currency ? " " + currency : "");
}

// ------------------------------------------------------------------------------ the tab

async function resolveTabId() {
  const fromQuery = parseInt(params.get("tabId"), 10);
  if (Number.isInteger(fromQuery)) return fromQuery;
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab ? tab.id : null;
}

async function inTab(func) {
  await chrome.scripting.executeScript({ target: { tabId: state.tabId }, files: ["lib/capture.js"] });
  const [result] = await chrome.scripting.executeScript({ target: { tabId: state.tabId }, func });
  return result ? result.result : null;
}

async function describePage() {
  try {
    return await inTab(() => BuyHiveCapture.describe());
  } catch (_) {
    return null; // chrome:// pages, the Web Store, or a tab we were not given
  }
}

// ----------------------------------------------------------------------------- sign-in

function showAuth(message) {
  show($("main"), false);
  show($("account"), false);
  show($("auth"), true);
  $("auth-error").textContent = message || "";
  show($("auth-error"), Boolean(message));
}

async function submitAuth(type, email, password, button) {
  button.disabled = true;
  $("auth-error").hidden = true;
  try {
    const answer = await send({ type, email, password });
    if (answer && answer.ok) {
      await showMain(answer.user);
    } else {
      showAuth((answer && answer.error && answer.error.message) || "That did not work. Please try again.");
    }
  } finally {
    button.disabled = false;
  }
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitAuth("login", $("login-email").value.trim(), $("login-password").value, $("login-submit"));
});

$("signup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitAuth("register", $("signup-email").value.trim(), $("signup-password").value, $("signup-submit"));
});

$("google-sign-in").addEventListener("click", async () => {
  $("google-sign-in").disabled = true;
  try {
    const answer = await send({ type: "google-sign-in" });
    if (answer && answer.ok) await showMain(answer.user);
    else showAuth((answer && answer.error && answer.error.message) || "Google sign-in did not complete.");
  } finally {
    $("google-sign-in").disabled = false;
  }
});

$("logout").addEventListener("click", async () => {
  await send({ type: "logout" });
  showAuth(null);
});

chrome.runtime.onMessage.addListener((message) => {
  if (message && message.type === "signed-out") {
    showAuth(message.reason === "session-ended" ? "Your session has ended. Please sign in again." : null);
  }
});

// ------------------------------------------------------------------------------ carts

function renderCarts(carts, checkedIds) {
  const list = $("cart-list");
  list.replaceChildren();
  for (const cart of carts) {
    const label = document.createElement("label");
    label.className = "cart";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = cart.id;
    box.dataset.cartId = cart.id;
    box.dataset.testid = "cart-option";
    box.checked = checkedIds.has(cart.id);
    const name = document.createElement("span");
    name.textContent = cart.name;
    const count = document.createElement("small");
    count.textContent = "(" + cart.item_count + ")";
    label.append(box, name, count);
    list.append(label);
  }
  show($("no-carts"), carts.length === 0);
}

function checkedCartIds() {
  return Array.from(document.querySelectorAll("[data-testid=cart-option]:checked"), (box) => box.dataset.cartId);
}

async function loadCarts(extraChecked) {
  const answer = await api("GET", "carts/?limit=200");
  if (!answer.ok) {
    notice(answer.error.message);
    return;
  }
  const checked = new Set([...checkedCartIds(), ...(extraChecked || [])]);
  renderCarts(answer.data.results || [], checked);
}

$("new-cart-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("new-cart-name").value.trim();
  if (!name) return;
  $("new-cart-submit").disabled = true;
  try {
    const answer = await api("POST", "carts/", { name });
    if (answer.ok) {
      $("new-cart-name").value = "";
      notice(null);
      await loadCarts([answer.data.id]); // a cart made here is where the user means to save
    } else {
      notice(answer.error.message);
    }
  } finally {
    $("new-cart-submit").disabled = false;
  }
});

// ------------------------------------------------------------------------ page check

// A grid of products (a category, search results, a shop's front page) is not one product:
// the popup says so and offers no "Save this product" until the user opens one. The check
// can be wrong (a product page it takes for a grid), so a quieter "save it anyway" stays: the
// item then keeps the check's verdict, and the admin's "page check said: A list of products"
// filter lists it for a person to label (docs/runbook.md, the page check's model card).
const COLLECTION_MESSAGE = "This looks like a list of products; open one to save it.";

// The box to send the page for review sits beside a save the check disagrees with ("save it
// anyway" on a grid, Save on a page it calls no product page), and only there: a page the
// check got wrong is the one worth a person's label. Off unless ticked, every time the popup
// opens (the HTML's default), since the whole page goes to the backend and a person reads it.
function offerSave(asCollection, disputed) {
  show($("save"), !asCollection);
  show($("save-anyway"), asCollection);
  show($("share-page-offer"), disputed);
}

function showPageCheck(check) {
  const el = $("page-check");
  el.classList.remove("yes", "no", "collection");
  if (!check || check.status !== "ok") {
    el.textContent = "BuyHive could not check this page right now; you can still save it.";
    offerSave(false, false);
    return;
  }
  el.dataset.isProduct = String(Boolean(check.is_product));
  el.dataset.pageType = check.page_type || "unknown";
  if (check.page_type === "collection") {
    el.classList.add("collection");
    el.textContent = COLLECTION_MESSAGE;
    offerSave(true, true);
    return;
  }
  offerSave(false, !check.is_product);
  if (check.is_product) {
    el.classList.add("yes");
    el.textContent = "This looks like a product page.";
  } else {
    el.classList.add("no");
    el.textContent = "This doesn't look like a product page.";
  }
}

async function pageHtml() {
  // The page's HTML lets the check read its structure (a grid of priced cards, one
  // add-to-cart button...); without it the check reads the address and title only.
  try {
    const page = await inTab(() => BuyHiveCapture.capture());
    return page && page.html ? page.html : null;
  } catch (_) {
    return null;
  }
}

async function checkPage() {
  if (!state.page) {
    $("page-check").textContent = "BuyHive can't read this tab (browser pages and the Chrome Web Store are off limits).";
    $("page-check").dataset.isProduct = "unknown";
    $("save").disabled = true;
    return;
  }
  const body = { url: state.page.url, title: state.page.title || null };
  const html = await pageHtml();
  if (html) body.html = html;
  const answer = await api("POST", "classify/url/", body);
  if (!answer.ok) {
    $("page-check").textContent = answer.error.message;
    return;
  }
  showPageCheck(answer.data);
}

// ----------------------------------------------------------------------- price change

async function priceWhenAdded(item) {
  for (const cartId of item.cart_ids || []) {
    let path = "carts/" + encodeURIComponent(cartId) + "/items/?limit=200";
    for (let page = 0; page < 5 && path; page++) {
      const answer = await api("GET", path);
      if (!answer.ok) return null;
      const found = (answer.data.results || []).find((row) => row.id === item.id);
      if (found) return { price: found.price_at_add, currency: found.currency_at_add };
      const next = answer.data.next;
      path = next ? next.slice(next.indexOf("/api/v1/") + "/api/v1/".length) : null;
    }
  }
  return null;
}

async function showPriceChange() {
  const el = $("price-change");
  show(el, false);
  if (!state.page) return;
  const list = await send({ type: "watch-list" });
  const watched = BuyHiveMatch.findItem(state.page.url, list);
  if (!watched) return;
  const answer = await api("GET", "items/" + encodeURIComponent(watched.item_id) + "/");
  if (!answer.ok) return;
  const item = answer.data;
  const added = await priceWhenAdded(item);
  if (!added || added.price === null || item.price === null) return;
  const then = Number(added.price);
  const now = Number(item.price);
  let change = "unchanged";
  el.classList.remove("down");
  if (added.currency === item.currency && then > 0 && now !== then) {
    const percent = Math.round(((now - then) / then) * 100);
    change = (percent > 0 ? "up " : "down ") + Math.abs(percent) + "%";
    if (now < then) el.classList.add("down");
  }
  el.dataset.then = String(added.price);
  el.dataset.now = String(item.price);
  el.textContent =
    "Saved at " + formatPrice(added.price, added.currency) + ", now " + formatPrice(item.price, item.currency) + " (" + change + ").";
  show(el, true);
}

// ------------------------------------------------------------------------------- save

function saveStatus({ error, title, price, image }) {
  const box = $("save-status");
  box.classList.toggle("error", Boolean(error));
  $("saved-title").textContent = error ? error : title || "Saved (no title found on the page)";
  $("saved-price").textContent = error ? "" : price || "No price found on the page.";
  const img = $("saved-image");
  if (!error && image) {
    img.src = image;
    img.hidden = false;
  } else {
    img.removeAttribute("src");
    img.hidden = true;
  }
  box.dataset.state = error ? "error" : "saved";
  show(box, true);
}

// A shop's image may not load (offline, hotlink protection): no broken-image icon then.
$("saved-image").addEventListener("error", () => {
  $("saved-image").hidden = true;
});

function disableSave(disabled) {
  $("save").disabled = disabled;
  $("save-anyway").disabled = disabled;
  $("share-page").disabled = disabled; // what a save in flight sends is settled at its click
}

const SHARE_MESSAGES = {
  kept: "Thank you: the page was sent for review.",
  limit_reached: "Saved; the page was not sent: you have shared many pages today.",
};

function shareStatus(sample) {
  // What became of the page sent for review; the save's own result is shown above it.
  const el = $("share-status");
  const text = sample ? SHARE_MESSAGES[sample.status] : null;
  el.textContent = text || "";
  if (text) el.dataset.state = sample.status;
  else delete el.dataset.state;
  show(el, Boolean(text));
}

function holdSave(seconds) {
  // The API asked us to wait (429 Retry-After): Save stays off until then, with the time left.
  clearInterval(state.holdTimer);
  const until = Date.now() + seconds * 1000;
  disableSave(true);
  state.holdTimer = setInterval(() => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      clearInterval(state.holdTimer);
      state.holdTimer = null;
      disableSave(false);
      $("save").textContent = "Save this product";
    } else {
      $("save").textContent = "Save again in " + left + " s";
    }
  }, 1000);
}

function askForOrigin() {
  // Must run inside the click itself (a user gesture), before anything is awaited.
  if (state.originGranted || !state.originPattern) return Promise.resolve(true);
  return chrome.permissions.request({ origins: [state.originPattern] }).catch(() => false);
}

/** `share`: send the page for a person to review too (offered only where the check disagrees). */
async function save(permission, share) {
  if (state.saving) return;
  const cartIds = checkedCartIds();
  if (cartIds.length === 0) {
    saveStatus({ error: "Choose a cart to save into, or create one first." });
    return;
  }
  state.saving = true;
  disableSave(true);
  shareStatus(null);
  document.body.dataset.busy = "saving";
  try {
    let page;
    try {
      page = await inTab(() => BuyHiveCapture.capture());
    } catch (_) {
      page = null;
    }
    if (!page) {
      saveStatus({ error: "BuyHive couldn't read this page. Reload it and try again." });
      return;
    }
    const body = { url: page.url, html: page.html, text: page.text, image_urls: page.image_urls, cart_ids: cartIds };
    if (page.title) body.title = page.title;
    // The API refuses share_page without html (a 400 that would fail the save too): a page
    // captured without html is saved as before, and not sent for review.
    if (share && page.html) body.share_page = true;
    // What went out, for a person (or a test) checking page sizes against the API's limits.
    document.body.dataset.renderedChars = String(page.stats.rendered_chars);
    document.body.dataset.sentChars = String(page.stats.sent_chars);
    document.body.dataset.sentBytes = String(new TextEncoder().encode(JSON.stringify(body)).length);
    const answer = await api("POST", "extract/", body);
    if (!answer.ok) {
      saveStatus({ error: answer.error.message });
      if (answer.error.retryAfter) holdSave(answer.error.retryAfter);
      return;
    }
    const product = answer.data.product || {};
    const item = answer.data.item || {};
    saveStatus({
      title: item.title || product.title,
      price: formatPrice(item.price ?? product.price, item.currency || product.currency),
      image: item.image_url || product.image,
    });
    if (answer.data.page_check) showPageCheck(answer.data.page_check);
    if (body.share_page) {
      shareStatus(answer.data.page_sample);
      $("share-page").checked = false; // sent (or refused for today): a second save does not send it again
    }
    await permission; // the user's answer about watching this shop, asked at the click
    await Promise.all([loadCarts(), send({ type: "watch-refresh" })]);
  } finally {
    state.saving = false;
    if (!state.holdTimer) disableSave(false);
    delete document.body.dataset.busy;
  }
}

for (const id of ["save", "save-anyway"]) {
  $(id).addEventListener("click", () => {
    const permission = askForOrigin();
    save(permission, !$("share-page-offer").hidden && $("share-page").checked);
  });
}

// ------------------------------------------------------------------------------- start

async function showMain(user) {
  show($("auth"), false);
  show($("main"), true);
  show($("account"), true);
  $("signed-in-as").textContent = user ? user.email : "";
  notice(null);
  if (state.page) {
    try {
      const origin = new URL(state.page.url).origin;
      state.originPattern = origin + "/*";
      state.originGranted = await chrome.permissions.contains({ origins: [state.originPattern] });
    } catch (_) {
      state.originGranted = true;
    }
  }
  await Promise.all([loadCarts(), checkPage(), showPriceChange()]);
}

async function start() {
  state.tabId = await resolveTabId();
  state.page = state.tabId === null ? null : await describePage();
  const session = await send({ type: "session" });
  if (session && session.user) await showMain(session.user);
  else showAuth(null);
  document.body.dataset.ready = "1";
}

start();
