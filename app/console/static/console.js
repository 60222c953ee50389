// The open-cases page refreshes its table by itself (no framework, no build step).
// A refresh is not "activity": the server does not extend an idle session for it.
(function () {
  "use strict";
  var box = document.querySelector("[data-refresh]");
  if (!box) return;
  var url = box.getAttribute("data-refresh");
  var every = Number(box.getAttribute("data-every") || 10) * 1000;
  var status = document.getElementById("refresh-status");

  function count() {
    return box.querySelectorAll("tbody tr").length;
  }

  function say(text) {
    if (status) status.textContent = text;
  }

  function refresh() {
    fetch(url, {
      headers: { "X-Console-Refresh": "1" },
      credentials: "same-origin",
      redirect: "manual",
    })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401) {
          // The session ended (idle, signed out elsewhere, token revoked): sign in again.
          window.location.assign("/console/sign-in?expired=1&next=" + encodeURIComponent(window.location.pathname));
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) return;
        var before = count();
        // Keep keyboard focus on the same link when the table is replaced under it.
        var focused = box.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
        box.innerHTML = html;
        if (focused) {
          var again = box.querySelector('a[href="' + focused + '"]');
          if (again) again.focus();
        }
        var after = count();
        if (after !== before) say(after === 1 ? "1 open case now." : after + " open cases now.");
      })
      .catch(function () {
        say("Cannot reach the hotline; trying again.");
      })
      .finally(function () {
        window.setTimeout(refresh, every);
      });
  }

  window.setTimeout(refresh, every);
})();
