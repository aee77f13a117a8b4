/* The playground page: reads the controls, asks the JSON API, draws what comes back.
 * Every number, formula, frame, tap and hover link is computed in Python (convzoo.serve.api);
 * the values each list offers come from /api/choices (convzoo's own checks, run in Python).
 * This file only fills the page and hands frames to the shared player (player.js). */
(function () {
  "use strict";
  var form = document.getElementById("controls");
  var kindSelect = document.getElementById("kind");
  var info = null, timer = null, serial = 0, choiceSerial = 0, player = null, shown = null;
  var SELECTS = ["in", "out", "k", "s", "p", "d", "g", "op", "factor", "mode"];

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

  function shownValue(v) {
    return v === null || v === undefined ? "" : Array.isArray(v) ? v.join("x") : String(v);
  }

  function option(select, value, label) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    select.appendChild(o);
  }

  // Show the settings the kind takes; every one back to the kind's default (nothing from the
  // previous kind carries over: a stride of 2 from 'transposed' is not a dilated conv's).
  function applyKind() {
    var defaults = info.defaults[kindSelect.value] || {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "kind") return;
      var takes = el.name === "frames" || Object.prototype.hasOwnProperty.call(defaults, el.name);
      el.disabled = !takes;
      var label = form.querySelector("label[for='" + el.id + "']");
      el.classList.toggle("off", !takes);
      if (label) label.classList.toggle("off", !takes);
      el.value = "";
      if (el.tagName === "INPUT" && el.name !== "frames") {
        el.placeholder = takes ? shownValue(defaults[el.name]) : "";
      }
    });
    // `factor` is the kind's upscale_factor, or pixel_unshuffle's downscale_factor (torch's names)
    text("factor-label", kindSelect.value === "pixel_unshuffle" ? "downscale_factor"
                                                                : "upscale_factor");
    text("description", info.descriptions[kindSelect.value] || "");
    var box = $("articles"), cites = info.articles[kindSelect.value] || [];
    box.textContent = cites.length ? "Explained in: " : "Not in the seed articles (convzoo adds it).";
    cites.forEach(function (a, i) {  // the English title here; the original in "The articles"
      var link = document.createElement("a");
      link.href = "#source-" + a.seed;
      link.title = a.title;
      link.textContent = "\u201c" + a.english + "\u201d (seed " + a.seed + ")";
      box.appendChild(link);
      box.appendChild(document.createTextNode(i + 1 < cites.length ? "; " : "."));
    });
  }

  // Each select offers its kind's default and the values valid with the other settings.
  function fillChoices(choices) {
    var defaults = info.defaults[kindSelect.value] || {};
    SELECTS.forEach(function (name) {
      var select = form.elements[name];
      if (select.disabled) return;
      var current = select.value;
      var values = name === "mode" ? info.modes : (choices[name] || []);
      select.innerHTML = "";
      var d = shownValue(defaults[name]);
      option(select, "", d === "" ? "default" : "default (" + d + ")");
      values.forEach(function (v) { option(select, v, v); });
      if (current !== "" && values.indexOf(current) < 0) {
        option(select, current, current + " (not valid with the other settings)");
      }
      select.value = current;
    });
  }

  function refreshChoices() {
    var mine = ++choiceSerial;
    document.body.setAttribute("data-choices", "pending");
    return getJSON("/api/choices?" + query(form)).then(function (r) {
      if (mine !== choiceSerial) return;
      if (r.ok) fillChoices(r.body.choices);
      document.body.setAttribute("data-choices", "ready");
    });
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
    $("limited").textContent = result.limited || "";
    $("limited").hidden = !result.limited;
    var root = $("player");
    root.setAttribute("data-frames", result.frames);
    if (player) player.pause();
    shown = result;
    if (!result.player) {  // numbers only: no frames for this input
      if (player) player.destroy();
      player = null;
      root.classList.add("empty");
      showTaps(null);
      return;
    }
    root.classList.remove("empty");
    root.onframe = function (i) { showTaps(result.taps[i]); };
    player = window.convzooPlayer(root, result.player);
    fit();
  }

  // The frame as large as it is drawn, but no wider than the column and, when the viewport
  // is short, small enough that the output cells stay above the fold.
  function fit() {
    if (!shown || !shown.player) return;
    var p = shown.player, svg = $("player").querySelector("svg.cz-frame");
    var width = $("stage").clientWidth;
    var bottom = (p.targets || []).reduce(function (m, t) { return Math.max(m, t[3]); }, 0);
    var top = svg.getBoundingClientRect().top + window.scrollY;
    var room = window.innerHeight - top - 16;
    var scale = Math.min(1, width / p.width, bottom ? room / bottom : 1);
    scale = Math.max(scale, 0.5);
    svg.style.width = (p.width * scale) + "px";
    svg.style.height = (p.height * scale) + "px";
    svg.setAttribute("data-scale", scale.toFixed(3));
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

  function stale(on) {
    ["numbers", "player", "taps"].forEach(function (id) { $(id).classList.toggle("stale", on); });
  }

  function update() {
    var mine = ++serial;
    var q = query(form);
    document.body.setAttribute("data-pending", "true");
    getJSON("/api/conv?" + q).then(function (r) {
      if (mine !== serial) return;
      document.body.setAttribute("data-pending", "false");
      if (!r.ok) {
        showError("error", r.body.error);
        stale(true);
        return;
      }
      showError("error", "");
      stale(false);
      fill(r.body);
      document.body.setAttribute("data-query", q);
    }).catch(function (e) {
      if (mine !== serial) return;
      document.body.setAttribute("data-pending", "false");
      showError("error", "the playground server did not answer: " + e);
    });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(function () { refreshChoices(); update(); }, 120);
  }

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
    document.body.setAttribute("data-stack", "pending");
    getJSON("/api/stack?" + query(stackForm)).then(function (r) {
      if (mine !== stackSerial) return;
      document.body.setAttribute("data-stack", r.ok ? "ready" : "error");
      // an error dims the last good diagram (it no longer matches the settings) and says why
      ["stack", "stack-levels"].forEach(function (id) { $(id).classList.toggle("stale", !r.ok); });
      $("stack").setAttribute("aria-disabled", r.ok ? "false" : "true");
      if (!r.ok) { showError("stack-error", r.body.error); return; }
      showError("stack-error", "");
      drawStack(r.body);
    });
  }

  // ------------------------------------------------------------------ start
  getJSON("/api/kinds").then(function (r) {
    info = r.body;
    info.kinds.forEach(function (k) { option(kindSelect, k, k); });
    info.sources.forEach(function (s) {
      var li = document.createElement("li");
      li.id = "source-" + s.seed;
      li.textContent = s.cite + ", " + s.source;
      $("source-list").appendChild(li);
    });
    kindSelect.value = "conv";
    applyKind();
    form.addEventListener("input", function (e) {
      if (e.target.tagName === "INPUT") later();
    });
    form.addEventListener("change", function (e) {
      if (e.target === kindSelect) applyKind();
      later();
    });
    stackForm.addEventListener("input", function () {
      clearTimeout(stackForm.t); stackForm.t = setTimeout(updateStack, 120);
    });
    window.addEventListener("resize", fit);
    refreshChoices();
    update();
    updateStack();
  });
})();
