// Saves a questionnaire (the application, the charter) as the person types: a second after the last change, and when the page
// is hidden. Without JavaScript the "Save and finish later" button does the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !form.getAttribute("data-autosave")) { return; }
  var url = form.getAttribute("data-autosave");
  var status = document.getElementById("autosave-status");
  var timer = null;
  var dirty = false;
  var stopped = false;  // sending, or sent elsewhere: no autosave may cross it
  function say(text) { if (status && status.textContent !== text) { status.textContent = text; } }
  function body() { return new FormData(form); }
  function save() {
    timer = null;
    if (!dirty || stopped) { return; }
    dirty = false;
    fetch(url, { method: "POST", body: body(), credentials: "same-origin",
                 headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (data) { return [r.ok, data]; }); })
      .then(function (result) {
        if (result[1].error) {  // refused, not lost: the server says why
          stopped = true;
          say(result[1].error);
          return;
        }
        if (!result[0] || !result[1].saved) { throw new Error("not saved"); }
        var time = new Date().toLocaleTimeString(document.documentElement.lang || undefined,
                                                  { hour: "2-digit", minute: "2-digit" });
        say(form.getAttribute("data-saved-text").replace("{time}", time));
      })
      .catch(function () { dirty = true; say(form.getAttribute("data-failed-text")); });
  }
  function changed() {
    if (stopped) { return; }
    dirty = true;
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(save, 1000);
  }
  form.addEventListener("submit", function () {
    stopped = true;
    if (timer) { window.clearTimeout(timer); timer = null; }
  });
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden" && dirty && !stopped && navigator.sendBeacon) {
      dirty = false;
      navigator.sendBeacon(url, body());
    }
  });
})();
