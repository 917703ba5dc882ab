/* LAPOR! inbox: a little progressive enhancement, no build step.
 * - [data-poll] regions refresh from their URL every data-interval ms (list and thread),
 *   paused while the tab is hidden or while the operator is typing inside the region.
 * - the canned-response picker inserts its text into the reply box.
 * - the reply counter asks the server how long the reply is as sent (characters, and SMS segments
 *   in GSM-7 or UCS-2): the count is the server's rule, the one that refuses a reply, not a copy.
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

  function replyCounter(counter) {
    var box = document.getElementById("reply-text");
    var token = document.querySelector("meta[name=csrf-token]");
    if (!box || !token) { return; }
    var timer = null;
    var asked = null;
    function ask() {
      var text = box.value;
      if (text === asked) { return; }
      asked = text;
      var body = new URLSearchParams();
      body.set("text", text);
      fetch(counter.getAttribute("data-budget"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": token.getAttribute("content"), "X-Requested-With": "fetch" },
        body: body
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (budget) {
          if (!budget || box.value !== text) { return; }
          counter.textContent = budget.label;
          counter.setAttribute("data-segments", String(budget.segments));
          counter.setAttribute("data-characters", String(budget.characters));
          counter.classList.toggle("counter-over", !budget.fits);
        })
        .catch(function () { asked = null; });
    }
    box.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 200);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), poll);
    Array.prototype.forEach.call(document.querySelectorAll("[data-budget]"), replyCounter);

    Array.prototype.forEach.call(document.querySelectorAll("select[data-canned]"), function (sel) {
      sel.addEventListener("change", function () {
        var box = document.getElementById("reply-text");
        if (box && sel.value) {
          box.value = box.value ? box.value + "\n" + sel.value : sel.value;
          box.dispatchEvent(new Event("input"));
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
