/* convzoo's animation player: paints frames whose drawing primitives were computed in
 * Python (convzoo.viz.draw.layout) and gives them play / pause / step / scrub controls.
 * No convolution rule lives here: every rectangle, text and line arrives ready to paint.
 * data = {width, height, prims: [[kind, ...]], frames: [[prim index, ...]], fps, hold_ms,
 *         targets: [[x0, y0, x1, y1, frame], ...] (optional: click a cell to show a frame),
 *         cells: [[x0, y0, x1, y1], ...], links: [[out cell, out channel, in cell, weight
 *         cell, ...] or null per frame] (optional: pointing at a cell lights the cells linked
 *         to it; the links are the engine's taps, computed in Python)}
 * Output cells are drawn over with transparent <rect class="cz-target"> elements (clickable,
 * focusable, Enter shows the frame); the lit cells are <rect class="cz-lit" data-role>.
 */
(function () {
  "use strict";
  if (window.convzooPlayer) return;
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function paint(svg, data, index) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.appendChild(el("rect", {x: 0, y: 0, width: data.width, height: data.height,
                                fill: "#ffffff"}));
    var ids = data.frames[index];
    for (var i = 0; i < ids.length; i++) {
      var p = data.prims[ids[i]];
      if (p[0] === "rect") {
        svg.appendChild(el("rect", {x: p[1], y: p[2], width: p[3] - p[1], height: p[4] - p[2],
                                    fill: p[5] || "none", stroke: p[6], "stroke-width": p[7]}));
      } else if (p[0] === "text") {
        var t = el("text", {x: p[1], y: p[2], "font-size": p[4], fill: p[5]});
        if (p[6] === "mm") {
          t.setAttribute("text-anchor", "middle");
          t.setAttribute("dominant-baseline", "central");
        } else if (p[6] === "ra") {
          t.setAttribute("text-anchor", "end");
          t.setAttribute("dominant-baseline", "hanging");
        } else {
          t.setAttribute("dominant-baseline", "hanging");
        }
        t.textContent = p[3];
        svg.appendChild(t);
      } else if (p[0] === "line") {
        svg.appendChild(el("line", {x1: p[1], y1: p[2], x2: p[3], y2: p[4], stroke: p[5],
                                    "stroke-width": p[6]}));
      }
    }
  }

  // Outline colours pairing an input cell with the weight it meets (distinct hues, all at a
  // contrast of at least 3:1 on white, as WCAG asks of graphics).
  var PAIRS = ["#1f4e79", "#7b2d8e", "#00695c", "#ad1457", "#4e342e", "#283593", "#2e7d32",
               "#6a1b9a"];

  // From the links: which frame each output cell computes, and the frames an input or
  // weight cell takes part in (pure look-ups: no convolution rule here).
  function index(data) {
    var out = {}, uses = {};
    (data.links || []).forEach(function (row, f) {
      if (!row) return;
      out[row[0]] = f;
      for (var i = 2; i < row.length; i += 2) {
        (uses[row[i]] = uses[row[i]] || []).push([f, i]);
        if (row[i + 1] >= 0) (uses[row[i + 1]] = uses[row[i + 1]] || []).push([f, i + 1]);
      }
    });
    return {out: out, uses: uses};
  }

  // The cells lit when pointing at cell c while frame `current` is shown: role -> {cell:
  // colour}. An output cell lights its inputs and weights (each pair in one colour); an input
  // cell the outputs it feeds and the weights it meets; a weight cell (of the shown output
  // channel) the inputs it multiplies and their outputs.
  function linked(data, idx, c, current) {
    var lit = {output: {}, input: {}, kernel: {}}, links = data.links, role;
    function pairs(f, only) {
      var row = links[f], colours = {}, n = 0;
      for (var i = 2; i < row.length; i += 2) {
        var w = row[i + 1];
        if (only !== undefined && only !== row[i] && only !== w) continue;
        var key = w >= 0 ? w : row[i];
        if (!(key in colours)) colours[key] = PAIRS[n++ % PAIRS.length];
        lit.input[row[i]] = colours[key];
        if (w >= 0) lit.kernel[w] = colours[key];
      }
      lit.output[row[0]] = "#111111";
    }
    if (c in idx.out) {
      role = "output";
      pairs(idx.out[c]);
    } else if (c in idx.uses) {
      var isWeight = idx.uses[c].some(function (u) { return u[1] % 2 === 1; });
      role = isWeight ? "kernel" : "input";
      var channel = links[current] ? links[current][1] : null;
      idx.uses[c].forEach(function (u) {
        if (isWeight && links[u[0]][1] !== channel) return;  // the weights of the shown channel
        pairs(u[0], c);
      });
    } else {
      return null;
    }
    return {role: role, lit: lit};
  }

  window.convzooPlayer = function (root, data) {
    if (root.czPlayer) root.czPlayer.destroy();  // a new animation in the same place
    var listening = new AbortController(), on = {signal: listening.signal};
    var svg = root.querySelector("svg.cz-frame");
    var slider = root.querySelector("input.cz-scrub");
    var play = root.querySelector("button.cz-play");
    var counter = root.querySelector(".cz-count");
    var n = data.frames.length, current = 0, timer = null, pointed = null;
    var idx = index(data);
    svg.setAttribute("width", data.width);
    svg.setAttribute("height", data.height);
    svg.setAttribute("viewBox", "0 0 " + data.width + " " + data.height);
    slider.max = n - 1;

    function light() {
      var old = svg.querySelectorAll(".cz-lit");
      for (var k = 0; k < old.length; k++) old[k].parentNode.removeChild(old[k]);
      var found = pointed === null ? null : linked(data, idx, pointed, current);
      root.setAttribute("data-pointed", found ? pointed : "");
      if (!found) return;
      var first = svg.querySelector(".cz-target");
      ["output", "input", "kernel"].forEach(function (role) {
        Object.keys(found.lit[role]).forEach(function (cell) {
          var b = data.cells[cell], colour = found.lit[role][cell];
          var r = el("rect", {x: b[0] + 1.5, y: b[1] + 1.5, width: b[2] - b[0] - 3,
                              height: b[3] - b[1] - 3, fill: colour, "fill-opacity": 0.18,
                              stroke: colour, "stroke-width": 3, "pointer-events": "none",
                              "class": "cz-lit", "data-role": role, "data-cell": cell});
          svg.insertBefore(r, first);
        });
      });
    }
    function targets() {
      (data.targets || []).forEach(function (t) {
        var r = el("rect", {x: t[0], y: t[1], width: t[2] - t[0], height: t[3] - t[1],
                            fill: "transparent", "class": "cz-target", "data-frame": t[4],
                            tabindex: 0, role: "button", style: "cursor:pointer",
                            "aria-label": "show the frame computing this output (" +
                              (t[4] + 1) + " of " + n + ")"});
        svg.appendChild(r);
      });
    }
    function show(i) {
      current = Math.max(0, Math.min(n - 1, i));
      paint(svg, data, current);
      targets();
      light();
      slider.value = current;
      counter.textContent = "frame " + (current + 1) + " of " + n;
      root.setAttribute("data-frame", current);
      if (root.onframe) root.onframe(current);
    }
    function stop() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      play.textContent = "Play";
      root.setAttribute("data-playing", "false");
    }
    function tick() {
      var last = current === n - 1;
      show(last ? 0 : current + 1);
      var wait = 1000 / (data.fps || 2) + (current === n - 1 ? (data.hold_ms || 0) : 0);
      timer = setTimeout(tick, wait);
    }
    function start() {
      if (timer !== null || n < 2) return;
      play.textContent = "Pause";
      root.setAttribute("data-playing", "true");
      timer = setTimeout(tick, 1000 / (data.fps || 2));
    }
    play.addEventListener("click", function () { timer === null ? start() : stop(); }, on);
    root.querySelector("button.cz-prev").addEventListener("click", function () {
      stop(); show(current - 1);
    }, on);
    root.querySelector("button.cz-next").addEventListener("click", function () {
      stop(); show(current + 1);
    }, on);
    slider.addEventListener("input", function () {
      stop(); show(parseInt(slider.value, 10));
    }, on);
    function pick(event) {
      var target = event.target.closest ? event.target.closest(".cz-target") : null;
      if (!target) return;
      var frame = target.getAttribute("data-frame");
      stop();
      show(parseInt(frame, 10));
      if (event.type === "keydown") {  // the frame was repainted: the focus stays on the cell
        var again = svg.querySelector(".cz-target[data-frame='" + frame + "']");
        if (again) again.focus();
      }
    }
    svg.addEventListener("click", pick, on);
    svg.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(event); }
    }, on);
    svg.addEventListener("mousemove", function (event) {
      if (!data.cells) return;
      var box = svg.getBoundingClientRect();
      var x = (event.clientX - box.left) * data.width / box.width;
      var y = (event.clientY - box.top) * data.height / box.height;
      var found = null;
      for (var i = 0; i < data.cells.length; i++) {
        var b = data.cells[i];
        if (x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]) { found = i; break; }
      }
      if (found !== pointed) { pointed = found; light(); }
    }, on);
    svg.addEventListener("mouseleave", function () { pointed = null; light(); }, on);
    show(0);
    var api = {show: show, play: start, pause: stop, frames: n,
               current: function () { return current; },
               point: function (cell) { pointed = cell; light(); },
               destroy: function () { stop(); listening.abort(); }};
    root.czPlayer = api;
    if (data.autoplay) start();
    return api;
  };
})();
