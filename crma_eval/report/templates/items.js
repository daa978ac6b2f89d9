/* Drill-down lists: filter and sort (the lists stay readable with scripts off). Offline only. */
(function () {
  "use strict";
  function cellText(row, i) { return row.cells[i] ? row.cells[i].textContent : ""; }
  function asNumber(text) { var n = parseFloat(text.replace("−", "-")); return isNaN(n) ? null : n; }
  document.querySelectorAll("details.items").forEach(function (box) {
    var tools = box.querySelector(".item-tools");
    var table = box.querySelector("table.item-table");
    if (!tools || !table) { return; }
    tools.hidden = false;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    tools.querySelector("input").addEventListener("input", function (event) {
      var needle = event.target.value.toLowerCase();
      rows.forEach(function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0;
      });
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      function sort() {
        var up = th.getAttribute("aria-sort") !== "ascending";
        rows.sort(function (a, b) {
          var x = cellText(a, i), y = cellText(b, i), nx = asNumber(x), ny = asNumber(y);
          var order = nx !== null && ny !== null ? nx - ny : x.localeCompare(y);
          return up ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
    });
  });
})();
