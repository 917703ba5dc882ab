/* LAPOR! inbox: being told (docs/inbox.md, "A working day").
 * - the unread count in the menu ([data-unread]) and the page title follow /inbox/notices.json;
 * - on a ticket, [data-presence] reports every few seconds whether this operator is typing and
 *   shows who else has the ticket open, is typing, or has acted on it since the page loaded. */
(function () {
  "use strict";

  var baseTitle = document.title.replace(/^\(\d+\) /, "");

  function showUnread(count) {
    document.title = (count > 0 ? "(" + count + ") " : "") + baseTitle;
    Array.prototype.forEach.call(document.querySelectorAll("[data-unread]"), function (badge) {
      badge.textContent = String(count);
      badge.hidden = count === 0;
    });
  }

  function pollUnread(url) {
    function check() {
      if (document.hidden) { return; }
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok && !r.redirected ? r.json() : null; })
        .then(function (data) { if (data && typeof data.unread === "number") { showUnread(data.unread); } })
        .catch(function () {});
    }
    window.setInterval(check, 30000);
    // Back to the tab after working elsewhere: the count is fresh at once, not up to 30 s later.
    window.addEventListener("focus", check);
  }

  function presence(region) {
    var url = region.getAttribute("data-presence");
    var since = region.getAttribute("data-since") || "";
    var token = document.querySelector("meta[name=csrf-token]");
    var lastKey = 0;
    document.addEventListener("input", function (ev) {
      if (ev.target && ev.target.tagName === "TEXTAREA") { lastKey = Date.now(); }
    });
    function tick() {
      if (document.hidden) { return; }
      var body = new URLSearchParams();
      body.set("typing", Date.now() - lastKey < 6000 ? "1" : "0");
      body.set("since", since);
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.getAttribute("content") : "" },
        body: body
      })
        .then(function (r) { return r.ok && !r.redirected ? r.json() : null; })
        .then(function (data) {
          if (data && data.html !== undefined && region.getAttribute("data-last") !== data.html) {
            region.innerHTML = data.html;
            region.setAttribute("data-last", data.html);
          }
        })
        .catch(function () {});
    }
    tick();
    window.setInterval(tick, parseInt(region.getAttribute("data-interval") || "5000", 10));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var unread = document.querySelector("[data-unread-url]");
    if (unread) { pollUnread(unread.getAttribute("data-unread-url")); }
    Array.prototype.forEach.call(document.querySelectorAll("[data-presence]"), presence);
  });
})();
