/* kg pages: draw the network of the page, search it, filter it, and filter the list of pages.
   Every text shown comes from data and is set with textContent, never as HTML. */
(function () {
  "use strict";

  function norm(s) {
    return (s || "").toLowerCase().replace(/\s+/g, "");
  }

  function draw() {
    var dataEl = document.getElementById("kg-graph");
    var container = document.getElementById("network");
    if (!dataEl || !container || typeof vis === "undefined") return null;
    var data = JSON.parse(dataEl.textContent);
    var nodes = new vis.DataSet(data.nodes);
    var edges = new vis.DataSet(data.edges);
    var network = new vis.Network(container, { nodes: nodes, edges: edges }, data.options);
    var kg = { network: network, nodes: nodes, edges: edges };
    window.kg = kg;

    network.once("afterDrawing", function () {
      // navigation start to the first frame with the network: what the browser test measures
      document.body.dataset.drawnMs = String(Math.round(performance.now()));
      container.dataset.drawn = "1";
    });

    network.on("click", function (params) {
      if (!params.nodes.length) return;
      var node = nodes.get(params.nodes[0]);
      if (node && node.href) window.location.href = node.href;
    });

    document.querySelectorAll("input[data-filter-type]").forEach(function (box) {
      box.addEventListener("change", function () {
        var type = box.dataset.filterType;
        nodes.update(nodes.get({ filter: function (n) { return n.type === type; } })
          .map(function (n) { return { id: n.id, hidden: !box.checked }; }));
      });
    });
    document.querySelectorAll("input[data-filter-rel]").forEach(function (box) {
      box.addEventListener("change", function () {
        var rel = box.dataset.filterRel;
        edges.update(edges.get({ filter: function (e) { return e.rel === rel; } })
          .map(function (e) { return { id: e.id, hidden: !box.checked }; }));
      });
    });

    var input = document.getElementById("node-search");
    var status = document.getElementById("search-status");
    var results = document.getElementById("search-results");
    if (input) {
      input.addEventListener("input", function () { search(kg, input.value, status, results); });
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") {
          var first = results && results.querySelector("a");
          if (first) window.location.href = first.getAttribute("href");
        }
      });
    }
    return kg;
  }

  function search(kg, query, status, results) {
    var q = norm(query);
    results.textContent = "";
    if (!q) {
      kg.network.unselectAll();
      status.textContent = "";
      return;
    }
    var found = kg.nodes.get({
      filter: function (n) { return !n.hidden && n.key.indexOf(q) >= 0; }
    });
    found.sort(function (a, b) {
      var ea = norm(a.label) === q ? 0 : 1, eb = norm(b.label) === q ? 0 : 1;
      return ea - eb || (b.value || 0) - (a.value || 0);
    });
    var ids = found.map(function (n) { return n.id; });
    kg.network.selectNodes(ids);
    if (ids.length) kg.network.focus(ids[0], { scale: 1.2, animation: false });
    status.textContent = ids.length ? "找到 " + ids.length + " 个 · " + ids.length + " found" : "图中没有 · not in this network";
    found.slice(0, 12).forEach(function (n) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.textContent = n.label;
      a.setAttribute("href", n.href);
      a.dataset.id = n.id;
      li.appendChild(a);
      results.appendChild(li);
    });
  }

  function pageFilter() {
    var input = document.getElementById("page-search");
    if (!input) return;
    var rows = Array.prototype.slice.call(document.querySelectorAll("li[data-key]"));
    var status = document.getElementById("page-status");
    input.addEventListener("input", function () {
      var q = norm(input.value), shown = 0;
      rows.forEach(function (li) {
        var hit = !q || li.dataset.key.indexOf(q) >= 0;
        li.hidden = !hit;
        if (hit) shown += 1;
      });
      status.textContent = q ? shown + " / " + rows.length : "";
    });
  }

  draw();
  pageFilter();
})();
