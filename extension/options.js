/* Settings: which backend to talk to (chrome.storage.local `apiBase`) and the Google client.
 * And the pages the user sent for review from the popup ("Pages you shared for review"):
 * listed and deleted through the service worker, which holds the tokens and makes every API
 * call (as for the popup), so this page never sees a token.
 */
"use strict";

const $ = (id) => document.getElementById(id);

function send(message) {
  return chrome.runtime.sendMessage(message);
}

function api(method, path, body) {
  return send({ type: "api", method, path, body });
}

// ------------------------------------------------------------------------------ settings

(async () => {
  const names = ["apiBase", "googleClientId"];
  const stored = await chrome.storage.local.get(names);
  for (const name of names) $(name).value = stored[name] || "";
  $("redirect").textContent = chrome.identity.getRedirectURL();
  $("settings").addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const name of names) values[name] = $(name).value.trim();
    if (values.apiBase) {
      try {
        const url = new URL(values.apiBase);
        values.apiBase = url.origin; // the API lives at <origin>/api/v1/
      } catch (_) {
        $("saved").textContent = "That API address is not a URL (e.g. http://127.0.0.1:8000).";
        $("saved").hidden = false;
        return;
      }
    }
    const empty = names.filter((name) => !values[name]);
    await chrome.storage.local.remove(empty); // an empty field means the default
    await chrome.storage.local.set(Object.fromEntries(Object.entries(values).filter(([, v]) => v)));
    $("saved").textContent = "Saved. Open the BuyHive button again to use it.";
    $("saved").hidden = false;
    loadShared(); // another backend holds other pages (or none)
  });
})();

// --------------------------------------------------------------- pages shared for review

// The API gives at most 200 a page; a user shares a few a day at most (the backend's daily
// limit), and unreviewed pages go after 30 days, so ten pages of them is more than anyone has.
const SHARED_PAGE_SIZE = 200;
const SHARED_MAX_PAGES = 10;

function sharedNote(text, isError) {
  const el = $("shared-note");
  el.textContent = text || "";
  el.classList.toggle("error", Boolean(isError));
  el.hidden = !text;
}

function formatDate(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  return when.toLocaleDateString("en", { day: "numeric", month: "short", year: "numeric" });
}

// What a person labelled a shared page (the page-types kinds, GET page-samples/'s
// `reviewed_as`), in words like the popup's ("a list of products").
const LABEL_WORDS = {
  product: "a product page",
  collection: "a list of products",
  listing: "a list of articles or posts",
  service: "a company or pricing page",
  forum: "a forum page",
  documentation: "documentation",
  article: "an article",
};

function reviewedAs(label) {
  const words = Object.hasOwn(LABEL_WORDS, label) ? LABEL_WORDS[label] : null;
  return words ? "reviewed: " + words : "reviewed";
}

function sharedRow(sample) {
  const row = document.createElement("li");
  row.className = "shared-page";
  row.dataset.testid = "shared-page";
  row.dataset.sampleId = sample.id;

  const what = document.createElement("div");
  what.className = "what";
  // A link only for a web address: the row must never become a javascript: (or other) link.
  const name = document.createElement(/^https?:\/\//i.test(sample.url || "") ? "a" : "span");
  name.textContent = sample.title || sample.url;
  if (name.tagName === "A") {
    name.href = sample.url;
    name.target = "_blank";
    name.rel = "noopener noreferrer";
  }
  what.append(name);
  if (sample.title) {
    // Titles repeat (two pages of one shop's category): the address tells them apart.
    const address = document.createElement("small");
    address.textContent = sample.url;
    what.append(address);
  }
  const details = document.createElement("small");
  const status = document.createElement("span");
  status.dataset.testid = "shared-page-status";
  status.textContent = sample.reviewed ? reviewedAs(sample.reviewed_as) : "waiting for review";
  details.append(status);
  if (!sample.reviewed && sample.expires_at) {
    const date = formatDate(sample.expires_at);
    if (date) details.append(", deleted on " + date + " unless reviewed first");
  }
  what.append(details);

  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "secondary";
  remove.dataset.testid = "shared-page-delete";
  remove.textContent = "Delete";
  remove.addEventListener("click", () => deleteShared(row, remove));

  row.append(what, remove);
  return row;
}

function showShared(samples) {
  $("shared-list").replaceChildren(...samples.map(sharedRow));
  sharedNote(samples.length ? null : "None.");
}

let loading = 0; // the latest load wins: an older answer arriving late is dropped

async function loadShared() {
  const mine = ++loading;
  const session = await send({ type: "session" });
  if (mine !== loading) return;
  if (!session || !session.user) {
    $("shared-list").replaceChildren();
    sharedNote("Sign in from the BuyHive button in the toolbar to see them.");
    return;
  }
  const samples = [];
  let path = "page-samples/?limit=" + SHARED_PAGE_SIZE;
  for (let page = 0; page < SHARED_MAX_PAGES && path; page++) {
    const answer = await api("GET", path);
    if (mine !== loading) return;
    if (!answer.ok) {
      sharedNote(answer.error.message, true);
      return;
    }
    samples.push(...(answer.data.results || []));
    const next = answer.data.next;
    const at = next ? next.indexOf("/api/v1/") : -1;
    path = at >= 0 ? next.slice(at + "/api/v1/".length) : null;
  }
  showShared(samples);
}

async function deleteShared(row, button) {
  button.disabled = true;
  const answer = await api("DELETE", "page-samples/" + encodeURIComponent(row.dataset.sampleId) + "/");
  // 404: already gone (deleted elsewhere, or its 30 days ran out): the row goes all the same.
  if (answer.ok || answer.status === 404) {
    row.remove();
    sharedNote($("shared-list").children.length ? null : "None.");
  } else {
    sharedNote(answer.error.message, true);
    button.disabled = false;
  }
}

// Signing in or out happens in the popup: look again when this tab is shown again, and at once
// when the service worker says the session ended.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") loadShared();
});
chrome.runtime.onMessage.addListener((message) => {
  if (message && message.type === "signed-out") loadShared();
});

loadShared();
