/* What the user reads when a call to the API fails: one short sentence per kind of failure,
 * never a status code, an exception name or a stack. The service worker turns every failed
 * call into {status, code, message, retryAfter}; the popup shows `message` as it is.
 */
"use strict";

(() => {
  const MESSAGES = Object.freeze({
    network: "Can't reach BuyHive right now. Check your internet connection and try again.",
    session: "Your session has ended. Please sign in again.",
    badLogin: "That email and password don't match an account.",
    tooLarge: "This page is too large to save. Try again from the product's own page.",
    server: "BuyHive is having a problem on its side. Please try again in a minute.",
    unavailable: "BuyHive is temporarily unavailable. Please try again in a minute.",
    notFound: "That is no longer in your BuyHive account.",
    unexpected: "Something went wrong. Please try again.",
  });

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  function waitText(seconds) {
    if (seconds >= 90) return plural(Math.ceil(seconds / 60), "minute");
    return plural(Math.max(1, Math.ceil(seconds)), "second");
  }

  function rateLimited(seconds) {
    return "Too many requests in a short time. Please try again in " + waitText(seconds) + ".";
  }

  /** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
  function parseRetryAfter(value) {
    if (!value) return null;
    const trimmed = String(value).trim();
    if (/^\d+$/.test(trimmed)) return parseInt(trimmed, 10);
    const when = Date.parse(trimmed);
    if (Number.isNaN(when)) return null;
    return Math.max(0, Math.ceil((when - Date.now()) / 1000));
  }

  /** The first readable sentence of a validation error's fields, if any. */
  function fieldMessage(fields) {
    if (!fields || typeof fields !== "object") return null;
    for (const value of Object.values(fields)) {
      const first = Array.isArray(value) ? value[0] : value;
      if (typeof first === "string" && first) return first;
      if (first && typeof first === "object") {
        const nested = fieldMessage(first);
        if (nested) return nested;
      }
    }
    return null;
  }

  /**
   * The error a caller sees for an HTTP answer that is not a success.
   * `body` is the parsed JSON (the API's envelope {"error": {code, message, fields}}) or null.
   */
  function fromResponse(status, body, retryAfterHeader, { login = false } = {}) {
    const envelope = body && typeof body === "object" && body.error ? body.error : {};
    const code = typeof envelope.code === "string" ? envelope.code : "http_" + status;
    const serverMessage = typeof envelope.message === "string" ? envelope.message : "";
    const result = { status, code, message: MESSAGES.unexpected, retryAfter: null, fields: envelope.fields || null };
    if (status === 401) {
      result.message = login ? MESSAGES.badLogin : MESSAGES.session;
    } else if (status === 413) {
      result.message = MESSAGES.tooLarge;
    } else if (status === 429) {
      const seconds = parseRetryAfter(retryAfterHeader);
      result.retryAfter = seconds === null ? 60 : seconds;
      result.message = rateLimited(result.retryAfter);
    } else if (status === 503) {
      result.message = MESSAGES.unavailable;
    } else if (status >= 500) {
      result.message = MESSAGES.server;
    } else if (status === 404) {
      result.message = MESSAGES.notFound;
    } else if (status === 400) {
      // The API's own sentences are written for people ("Send the page's html..."); the
      // first field message is the most specific one.
      result.message = fieldMessage(envelope.fields) || serverMessage || MESSAGES.unexpected;
    } else if (status >= 400) {
      result.message = serverMessage || MESSAGES.unexpected;
    }
    return result;
  }

  function network() {
    return { status: 0, code: "network", message: MESSAGES.network, retryAfter: null, fields: null };
  }

  globalThis.BuyHiveErrors = Object.freeze({ MESSAGES, fromResponse, network, rateLimited, parseRetryAfter });
})();
