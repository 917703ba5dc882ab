/* LAPOR! inbox: a little progressive enhancement, no build step.
 * - [data-poll] regions refresh from their URL every data-interval ms (list and thread),
 *   paused while the tab is hidden or while the operator is typing inside the region.
 * - the canned-response picker inserts its text into the reply box.
 * - forms are disabled after submit so a double click sends once (the server dedupes too). */
(function () {
  "use strict";

  function poll(region) {
    var url = region.getAttribute("data-poll");
    var interval = parseInt(region.getAttribute("data-interval") || "15000", 10);
    function tick() {
      if (document.hidden || region.contains(document.activeElement) && document.activeElement.tagName !== "A") {
        return;
      }
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          if (r.redirected || r.status === 401) { window.location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== undefined && html !== region.getAttribute("data-last")) {
            region.innerHTML = html;
            region.setAttribute("data-last", html);
            region.setAttribute("data-refreshed", String(Date.now()));
          }
        })
        .catch(function () { /* offline for a moment: try again next tick */ });
    }
    window.setInterval(tick, interval);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), poll);

    Array.prototype.forEach.call(document.querySelectorAll("select[data-canned]"), function (sel) {
      sel.addEventListener("change", function () {
        var box = document.getElementById("reply-text");
        if (box && sel.value) {
          box.value = box.value ? box.value + "\n" + sel.value : sel.value;
          box.focus();
        }
        sel.selectedIndex = 0;
      });
    });

    Array.prototype.forEach.call(document.querySelectorAll("form[method=post]"), function (form) {
      form.addEventListener("submit", function () {
        window.setTimeout(function () {
          Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) {
            b.disabled = true;
          });
        }, 0);
      });
    });
  });
})();
