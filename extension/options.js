/* Settings: which backend to talk to (chrome.storage.local `apiBase`) and the Google client. */
"use strict";

(async () => {
  const names = ["apiBase", "googleClientId"];
  const stored = await chrome.storage.local.get(names);
  for (const name of names) document.getElementById(name).value = stored[name] || "";
  document.getElementById("redirect").textContent = chrome.identity.getRedirectURL();
  document.getElementById("settings").addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const name of names) values[name] = document.getElementById(name).value.trim();
    if (values.apiBase) {
      try {
        const url = new URL(values.apiBase);
        values.apiBase = url.origin; // the API lives at <origin>/api/v1/
      } catch (_) {
        document.getElementById("saved").textContent = "That API address is not a URL (e.g. http://127.0.0.1:8000).";
        document.getElementById("saved").hidden = false;
        return;
      }
    }
    const empty = names.filter((name) => !values[name]);
    await chrome.storage.local.remove(empty); // an empty field means the default
    await chrome.storage.local.set(Object.fromEntries(Object.entries(values).filter(([, v]) => v)));
    document.getElementById("saved").textContent = "Saved. Open the BuyHive button again to use it.";
    document.getElementById("saved").hidden = false;
  });
})();
