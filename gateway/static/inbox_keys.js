/* LAPOR! inbox: keyboard shortcuts for working through a queue (docs/inbox.md, "A working day").
 *   /          focus the search box
 *   j / k      next / previous ticket in the list (Enter opens it)
 *   e          dispose: on a ticket, open the dispose form; in the list, open the ticket there
 *   Ctrl+Enter send the form of the text box being typed in (Cmd+Enter on a Mac)
 *   ?          show or hide the help (the #kb-help dialog the page renders, in its language)
 * Letters do nothing while typing in a field, so shortcuts never eat a word. */
(function () {
  "use strict";

  function typing(el) {
    if (!el) { return false; }
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr[data-tracking]"));
  }

  function current() {
    return document.querySelector("tr[data-tracking].kb-current");
  }

  function select(row) {
    rows().forEach(function (r) { r.classList.remove("kb-current"); r.removeAttribute("aria-current"); });
    if (!row) { return; }
    row.classList.add("kb-current");
    row.setAttribute("aria-current", "true");
    var link = row.querySelector("a.tracking");
    if (link) { link.focus(); }
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var at = all.indexOf(current());
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[next]);
  }

  function openDispose() {
    var form = document.querySelector("form[data-action=dispose]");
    if (form) {
      var details = form.closest("details");
      if (details) { details.open = true; }
      var field = form.querySelector("select, textarea");
      if (field) { field.focus(); }
      return true;
    }
    return false;
  }

  function toggleHelp() {
    var help = document.getElementById("kb-help");
    if (!help) { return; }
    if (help.open) { help.close(); } else if (help.showModal) { help.showModal(); } else { help.setAttribute("open", ""); }
  }

  document.addEventListener("keydown", function (ev) {
    var target = ev.target;
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && target && target.tagName === "TEXTAREA" && target.form) {
      ev.preventDefault();
      if (target.form.requestSubmit) { target.form.requestSubmit(); } else { target.form.submit(); }
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(target)) { return; }
    if (ev.key === "/") {
      var search = document.querySelector("input[type=search]");
      if (search) { ev.preventDefault(); search.focus(); search.select(); }
    } else if (ev.key === "j" || ev.key === "k") {
      if (rows().length) { ev.preventDefault(); move(ev.key === "j" ? 1 : -1); }
    } else if (ev.key === "e") {
      if (openDispose()) { ev.preventDefault(); return; }
      var row = current();
      var link = row && row.querySelector("a.tracking");
      if (link) { ev.preventDefault(); window.location.href = link.getAttribute("href") + "#dispose"; }
    } else if (ev.key === "?") {
      ev.preventDefault();
      toggleHelp();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (window.location.hash === "#dispose") { openDispose(); }
    // The list refreshes itself: keep the keyboard's place and the ticked boxes across a refresh.
    var region = document.getElementById("list-region");
    if (region && window.MutationObserver) {
      var ticked = {};
      region.addEventListener("change", function (ev) {
        if (ev.target && ev.target.name === "t") { ticked[ev.target.value] = ev.target.checked; }
      });
      var place = null;
      region.addEventListener("focusin", function () { var c = current(); place = c && c.getAttribute("data-tracking"); });
      new MutationObserver(function () {
        Array.prototype.forEach.call(region.querySelectorAll("input[name=t]"), function (box) {
          if (ticked[box.value]) { box.checked = true; }
        });
        if (place) { select(region.querySelector('tr[data-tracking="' + place + '"]')); }
      }).observe(region, { childList: true });
    }
  });
})();
