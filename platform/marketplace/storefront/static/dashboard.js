/* Live dashboard: polls the admin stats every two seconds and redraws the tables in place.
 * The page is complete without it (server-rendered); this only keeps it current. */
(function () {
  "use strict";
  var root = document.querySelector(".dashboard");
  if (!root || !window.fetch) { return; }
  var windowS = Number(root.getAttribute("data-window")) || 120;

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = String(value); }
  }

  function cell(row, value, numeric) {
    var td = document.createElement("td");
    if (numeric) { td.className = "num"; }
    td.textContent = String(value);
    row.appendChild(td);
    return td;
  }

  function fill(tableId, rows, empty, columns) {
    var body = document.querySelector("#" + tableId + " tbody");
    if (!body) { return; }
    body.textContent = "";
    if (!rows.length) {
      var tr = document.createElement("tr");
      var td = cell(tr, empty, false);
      td.colSpan = columns;
      td.className = "muted";
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (values) {
      var tr = document.createElement("tr");
      values.forEach(function (v) { cell(tr, v[0], v[1]); });
      body.appendChild(tr);
    });
  }

  function render(stats) {
    var requests = stats.requests;
    text("requests-total", requests.total);
    text("requests-refused", requests.refused);
    text("requests-would-refuse", requests.would_refuse);
    text("requests-rate", (requests.total / windowS).toFixed(1));
    text("orders-total", stats.orders.total);
    text("latency-p99", ((stats.gate_latency_us.p99 || 0) / 1000).toFixed(1));
    text("updated", String(stats.generated_at).slice(11, 19));
    var classes = Object.keys(requests.by_class_decision).sort().map(function (cls) {
      var actions = requests.by_class_decision[cls];
      var total = Object.keys(actions).reduce(function (s, a) { return s + actions[a]; }, 0);
      var allowed = actions.allow || 0;
      return [[cls, false], [(total / windowS).toFixed(2), true], [allowed, true], [total - allowed, true],
              [stats.observed.by_class[cls] || 0, true]];
    });
    fill("classes", classes, "No traffic yet.", 5);
    var doors = Object.keys(requests.by_door || {}).sort().map(function (door) {
      var actions = requests.by_door[door];
      var total = Object.keys(actions).reduce(function (s, a) { return s + actions[a]; }, 0);
      var allowed = actions.allow || 0;
      return [[door, false], [total, true], [allowed, true], [total - allowed, true]];
    });
    fill("doors", doors, "No traffic yet.", 4);
    var orders = Object.keys(stats.orders.by_channel).sort().map(function (ch) {
      return [[ch, false], [stats.orders.by_channel[ch], true]];
    });
    fill("orders", orders, "No orders yet.", 2);
    var refusals = stats.refusals.examples.map(function (r) {
      return [[String(r.at).slice(11, 19), false], [r.visitor_class, false], [r.action, false],
              [r.door || "", false], [r.method + " " + r.path, false], [r.rule + ": " + r.reason, false]];
    });
    fill("refusals", refusals, "Nobody refused yet.", 6);
    renderObserved(stats.observed);
    var chart = document.getElementById("timeline");
    if (chart) { chart.src = "/dashboard/timeline.svg?t=" + Date.now(); }
  }

  function renderObserved(observed) {
    var rows = observed.examples.map(function (r) {
      return [[String(r.at).slice(11, 19), false], [r.visitor_class, false], [r.action, false],
              [r.method + " " + r.path, false], [r.rule + ": " + r.reason, false]];
    });
    fill("observed", rows, "Nothing observed: under an enforcing policy refusals are listed above.", 5);
  }

  function poll() {
    fetch("/api/v1/admin/stats?window_s=" + windowS, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (stats) { if (stats) { render(stats); } })
      .catch(function () {})
      .then(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
})();
