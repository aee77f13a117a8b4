/* The playground page: reads the controls, asks the JSON API, draws what comes back.
 * Every number, formula, frame and tap is computed in Python (convzoo.serve.api); this file
 * only fills the page and hands frames to the shared player (player.js). */
(function () {
  "use strict";
  var form = document.getElementById("controls");
  var kindSelect = document.getElementById("kind");
  var info = null, timer = null, serial = 0, player = null, last = null;

  function $(id) { return document.getElementById(id); }
  function text(id, value) { $(id).textContent = value; }

  function showError(id, message) {
    var box = $(id);
    box.textContent = message || "";
    box.hidden = !message;
  }

  function query(formEl) {
    var params = new URLSearchParams();
    Array.prototype.forEach.call(formEl.elements, function (el) {
      if (el.name && el.value.trim() !== "" && !el.disabled) params.set(el.name, el.value.trim());
    });
    return params.toString();
  }

  function getJSON(url) {
    return fetch(url).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    });
  }

  function applyKind() {
    var defaults = info.defaults[kindSelect.value] || {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "kind" || el.name === "frames") return;
      var takes = Object.prototype.hasOwnProperty.call(defaults, el.name);
      el.disabled = !takes;
      if (el.tagName === "INPUT") {
        var v = defaults[el.name];
        el.placeholder = takes && v !== null ? (Array.isArray(v) ? v.join("x") : String(v)) : "";
        if (!takes) el.value = "";
      }
    });
    text("description", info.descriptions[kindSelect.value] || "");
  }

  function fill(result) {
    var n = result.numbers, totals = n.totals;
    var lines = [];
    n.stages.forEach(function (s) {
      if (s.formulas.length) lines.push(s.stage + ":\n  " + s.formulas.join("\n  "));
    });
    text("formula", lines.join("\n") || "(no sliding window: a pure data movement)");
    text("params", totals.params.toLocaleString("en"));
    text("macs", totals.macs.toLocaleString("en"));
    text("bytes", totals.bytes.toLocaleString("en"));
    text("rf", totals.rf.join(" | ") || "-");
    text("shape", totals.output ? totals.output.join("x") : "(branches)");
    var table = $("stages");
    table.innerHTML = "";
    var head = table.insertRow();
    ["stage", "input", "output", "params", "MACs", "bytes", "RF"].forEach(function (h) {
      var th = document.createElement("th"); th.textContent = h; head.appendChild(th);
    });
    n.stages.forEach(function (s) {
      var row = table.insertRow();
      [s.stage, s.input.join("x"), s.output.join("x"), s.params_formula, s.macs_formula,
       s.bytes.toLocaleString("en"), s.rf.join(" | ")].forEach(function (v) {
        row.insertCell().textContent = v;
      });
    });
    var root = $("player");
    root.setAttribute("data-frames", result.frames);
    root.onframe = function (i) { showTaps(result.taps[i]); };
    if (player) player.pause();
    player = window.convzooPlayer(root, result.player);
  }

  function showTaps(tap) {
    var table = $("tap-table");
    table.innerHTML = "";
    if (!tap || !tap.output) { table.insertRow().insertCell().textContent = "-"; return; }
    var cap = table.createCaption();
    cap.textContent = "y[" + tap.output.join(", ") + "]" +
      (tap.value !== undefined ? " = " + tap.value : "");
    if (!tap.terms) return;
    var head = table.insertRow();
    ["tap", "weight", "input", "running sum"].forEach(function (h) {
      var th = document.createElement("th"); th.textContent = h; head.appendChild(th);
    });
    tap.terms.forEach(function (t, i) {
      var row = table.insertRow();
      [i + 1, t[0], t[1], t[2]].forEach(function (v) { row.insertCell().textContent = v; });
    });
  }

  function update() {
    var mine = ++serial;
    var q = query(form);
    document.body.setAttribute("data-pending", "true");
    getJSON("/api/conv?" + q).then(function (r) {
      if (mine !== serial) return;
      document.body.setAttribute("data-pending", "false");
      last = q;
      if (!r.ok) {
        showError("error", r.body.error);
        $("numbers").classList.add("stale");
        $("player").classList.add("stale");
        return;
      }
      showError("error", "");
      $("numbers").classList.remove("stale");
      $("player").classList.remove("stale");
      fill(r.body);
      document.body.setAttribute("data-query", last);
    }).catch(function (e) {
      if (mine !== serial) return;
      document.body.setAttribute("data-pending", "false");
      showError("error", "the playground server did not answer: " + e);
    });
  }

  function later() { clearTimeout(timer); timer = setTimeout(update, 120); }

  // ------------------------------------------------------------------ the stack view
  var stackForm = document.getElementById("stack-controls"), stackSerial = 0;

  function drawStack(s) {
    var box = $("stack");
    box.innerHTML = "";
    var rows = [];
    for (var lvl = s.sizes.length - 1; lvl >= 0; lvl--) {
      var row = document.createElement("div");
      row.className = "level";
      row.setAttribute("data-level", lvl);
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = lvl === 0 ? "input (" + s.sizes[0] + ")" :
        "layer " + lvl + " (k=" + s.levels[lvl - 1].k + ", s=" + s.levels[lvl - 1].s +
        ", p=" + s.levels[lvl - 1].p + ", d=" + s.levels[lvl - 1].d + ")";
      row.appendChild(name);
      for (var j = 0; j < s.sizes[lvl]; j++) {
        var cell = document.createElement("span");
        cell.className = "cell" + (lvl === s.sizes.length - 1 ? " top" : "");
        cell.setAttribute("data-index", j);
        row.appendChild(cell);
      }
      box.appendChild(row);
      rows[lvl] = row;
    }
    function highlight(j) {
      var field = s.fields[j];
      for (var l = 0; l < s.sizes.length; l++) {
        var cells = rows[l].querySelectorAll(".cell");
        for (var c = 0; c < cells.length; c++) cells[c].classList.remove("on");
        field[l].forEach(function (i) { cells[i].classList.add("on"); });
      }
      box.setAttribute("data-hover", j);
    }
    rows[s.sizes.length - 1].querySelectorAll(".cell").forEach(function (cell) {
      cell.addEventListener("mouseenter", function () {
        highlight(parseInt(cell.getAttribute("data-index"), 10));
      });
    });
    var table = $("stack-levels");
    table.innerHTML = "";
    var head = table.insertRow();
    ["layer", "output size", "formula", "receptive field r", "effective stride S",
     "effective padding P"].forEach(function (h) {
      var th = document.createElement("th"); th.textContent = h; head.appendChild(th);
    });
    s.levels.forEach(function (l) {
      var row = table.insertRow();
      [l.layer, l.size, l.formula, l.rf[0], l.rf[1], l.rf[2]].forEach(function (v) {
        row.insertCell().textContent = v;
      });
    });
  }

  function updateStack() {
    var mine = ++stackSerial;
    getJSON("/api/stack?" + query(stackForm)).then(function (r) {
      if (mine !== stackSerial) return;
      if (!r.ok) { showError("stack-error", r.body.error); return; }
      showError("stack-error", "");
      drawStack(r.body);
    });
  }

  // ------------------------------------------------------------------ start
  getJSON("/api/kinds").then(function (r) {
    info = r.body;
    info.kinds.forEach(function (k) {
      var o = document.createElement("option");
      o.value = o.textContent = k;
      kindSelect.appendChild(o);
    });
    info.modes.forEach(function (m) {
      var o = document.createElement("option");
      o.value = o.textContent = m;
      form.elements.mode.appendChild(o);
    });
    info.paddings.forEach(function (p) {
      var o = document.createElement("option");
      o.value = p;
      $("paddings").appendChild(o);
    });
    kindSelect.value = "conv";
    applyKind();
    form.addEventListener("input", later);
    form.addEventListener("change", function (e) {
      if (e.target === kindSelect) applyKind();
      later();
    });
    stackForm.addEventListener("input", function () {
      clearTimeout(stackForm.t); stackForm.t = setTimeout(updateStack, 120);
    });
    update();
    updateStack();
  });
})();
