/* Interaction beacon: tells the store's gate whether a person seems to be at the controls.
 *
 * It sends counts only (pointer and key events since the last report), the browser's own
 * navigator.webdriver flag and the delay to the first interaction. No coordinates, no keys
 * pressed, no page content. The gate turns these into a bot score (see docs/policy.md).
 * Each report carries the page's token (the script tag's data-token): the gate counts only
 * beacons of pages it served to the same session.
 */
(function () {
  "use strict";
  var ENDPOINT = "/api/v1/beacon";
  var script = document.currentScript;
  var TOKEN = (script && script.getAttribute("data-token")) || "";
  var FIRST_REPORT_MS = 2500;
  var pointer = 0;
  var keys = 0;
  var firstInteraction = null;
  var sentAny = false;
  var pending = false;

  function now() {
    return window.performance && performance.now ? performance.now() : Date.now();
  }

  function interacted() {
    if (firstInteraction === null) {
      firstInteraction = Math.round(now());
      // Report the first interaction promptly: a checkout may follow within seconds.
      schedule(300);
    }
  }

  function onPointer() {
    pointer += 1;
    interacted();
  }

  function onKey() {
    keys += 1;
    interacted();
  }

  function payload() {
    var body = {
      pointer: pointer,
      keys: keys,
      webdriver: navigator.webdriver === true,
      first_interaction_ms: firstInteraction,
      token: TOKEN
    };
    pointer = 0;
    keys = 0;
    return JSON.stringify(body);
  }

  function send(final) {
    pending = false;
    if (sentAny && pointer === 0 && keys === 0 && !final) {
      return;
    }
    sentAny = true;
    var body = payload();
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(ENDPOINT, body)) {
        return;
      }
    } catch (e) {
      /* fall through to fetch */
    }
    if (window.fetch) {
      fetch(ENDPOINT, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        keepalive: true,
        headers: { "Content-Type": "text/plain;charset=UTF-8" }
      }).catch(function () {});
    }
  }

  function schedule(delay) {
    if (!pending) {
      pending = true;
      window.setTimeout(function () { send(false); }, delay);
    }
  }

  ["pointermove", "pointerdown", "wheel", "touchstart", "scroll"].forEach(function (name) {
    window.addEventListener(name, onPointer, { passive: true, capture: true });
  });
  window.addEventListener("keydown", onKey, { passive: true, capture: true });

  window.setTimeout(function () { send(true); }, FIRST_REPORT_MS);
  window.setInterval(function () { if (pointer || keys) { send(false); } }, 10000);
  function leaving() {
    if (pointer || keys || !sentAny) {
      send(true);
    }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { leaving(); }
  });
  // Following a link within two seconds: the page's report goes out as it is left.
  window.addEventListener("pagehide", leaving);
})();
