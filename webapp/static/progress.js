// Live progress of a running campaign: polls the status endpoint, updates counts and the bar.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section) { return; }
  var url = section.getAttribute("data-url");
  function update() {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
      var counts = data.counts;
      section.querySelectorAll("[data-count]").forEach(function (cell) {
        cell.textContent = counts[cell.getAttribute("data-count")];
      });
      var bar = document.getElementById("progress-bar");
      bar.max = counts.total || 1;
      bar.value = counts.total - counts.pending - counts.sending;
      if (data.state === "running") { window.setTimeout(update, 2000); }
    }).catch(function () { window.setTimeout(update, 5000); });
  }
  window.setTimeout(update, 1000);
})();
