// belay dashboard: refreshes the parts of a page marked data-live, in place,
// without reloading it. No library, no request to anywhere but this server.
"use strict";
(function () {
  function refresh(el) {
    var url = el.getAttribute("data-live");
    var select = el.getAttribute("data-select");
    var every = parseInt(el.getAttribute("data-every") || "1000", 10);
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "X-Belay-Fragment": "1" }, cache: "no-store" })
        .then(function (resp) {
          if (resp.status === 401) { window.location.reload(); return null; }
          if (!resp.ok) { throw new Error(url + ": " + resp.status); }
          return resp.text();
        })
        .then(function (html) {
          if (html === null) { return; }
          if (select) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var part = doc.querySelector(select);
            var mine = el.querySelector(select);
            if (part && mine) { mine.replaceWith(document.importNode(part, true)); }
          } else {
            el.innerHTML = html;
          }
          el.setAttribute("data-refreshed", String(Date.now()));
          el.classList.remove("stale");
        })
        .catch(function () { el.classList.add("stale"); })
        .finally(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(refresh);
  });
})();
