// Live progress of a launched campaign: polls the status endpoint, updates the counts, the bar,
// the state and the pause notice without a reload. Without JavaScript the "Refresh" link does it.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section) { return; }
  var url = section.getAttribute("data-url");
  function setText(element, text) {
    if (element && element.textContent !== String(text)) { element.textContent = text; }
  }
  function update() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        var counts = data.counts;
        counts.done = data.done;
        section.querySelectorAll("[data-count]").forEach(function (cell) {
          var key = cell.getAttribute("data-count");
          if (key in counts) { setText(cell, counts[key]); }
        });
        var bar = document.getElementById("progress-bar");
        bar.max = counts.total || 1;
        bar.value = data.done;
        setText(document.getElementById("campaign-state"), data.state_label);
        setText(document.getElementById("progress-notice"), data.notice);
        // Paused, completed or cancelled meanwhile: the label says so; "Refresh" brings the buttons.
        if (data.state === "running") { window.setTimeout(update, 2000); }
      })
      .catch(function () { window.setTimeout(update, 5000); });
  }
  if (section.getAttribute("data-state") === "running") { window.setTimeout(update, 1000); }
})();
