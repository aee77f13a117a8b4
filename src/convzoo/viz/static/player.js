/* convzoo's animation player: paints frames whose drawing primitives were computed in
 * Python (convzoo.viz.draw.layout) and gives them play / pause / step / scrub controls.
 * No convolution rule lives here: every rectangle, text and line arrives ready to paint.
 * data = {width, height, prims: [[kind, ...]], frames: [[prim index, ...]], fps, hold_ms,
 *         targets: [[x0, y0, x1, y1, frame], ...] (optional: click a cell to show a frame)}
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

  window.convzooPlayer = function (root, data) {
    if (root.czPlayer) root.czPlayer.destroy();  // a new animation in the same place
    var listening = new AbortController(), on = {signal: listening.signal};
    var svg = root.querySelector("svg.cz-frame");
    var slider = root.querySelector("input.cz-scrub");
    var play = root.querySelector("button.cz-play");
    var counter = root.querySelector(".cz-count");
    var n = data.frames.length, current = 0, timer = null;
    svg.setAttribute("width", data.width);
    svg.setAttribute("height", data.height);
    svg.setAttribute("viewBox", "0 0 " + data.width + " " + data.height);
    slider.max = n - 1;

    function show(i) {
      current = Math.max(0, Math.min(n - 1, i));
      paint(svg, data, current);
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
    svg.addEventListener("click", function (event) {
      if (!data.targets) return;
      var box = svg.getBoundingClientRect();
      var x = (event.clientX - box.left) * data.width / box.width;
      var y = (event.clientY - box.top) * data.height / box.height;
      for (var i = 0; i < data.targets.length; i++) {
        var t = data.targets[i];
        if (x >= t[0] && x <= t[2] && y >= t[1] && y <= t[3]) { stop(); show(t[4]); return; }
      }
    }, on);
    show(0);
    var api = {show: show, play: start, pause: stop, frames: n,
               current: function () { return current; },
               destroy: function () { stop(); listening.abort(); }};
    root.czPlayer = api;
    if (data.autoplay) start();
    return api;
  };
})();
