/* asterrl report charts: canvas line/band/marker charts with a shared, zoomable time axis.
   Wheel: zoom around the cursor. Drag: pan. Double-click or "reset zoom": whole span.
   Data: the JSON in <script id="report-data">; x in seconds since data.t0_ms (UTC). No network access. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var t0 = data.t0_ms;
  var charts = [];
  var full = { x0: Infinity, x1: -Infinity };
  var view = { x0: 0, x1: 1 };
  var PAD = { l: 64, r: 14, t: 10, b: 26 };

  function finite(v) { return v !== null && isFinite(v); }

  function fmt(v, kind) {
    if (!finite(v)) return "-";
    if (Math.abs(v) < 1e-12) v = 0;
    if (kind === "pct") return (v * 100).toFixed(Math.abs(v) < 0.1 ? 2 : 1) + "%";
    if (kind === "mult") return v.toFixed(3) + "x";
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    return a >= 100 ? v.toFixed(0) : v.toFixed(a >= 1 ? 2 : 4);
  }

  function dateLabel(sec, span) {
    var d = new Date(t0 + sec * 1000), iso = d.toISOString();
    if (span === 0) return iso.slice(0, 16).replace("T", " ") + " UTC";
    if (span > 3 * 365 * 86400) return iso.slice(0, 7);
    if (span > 5 * 86400) return iso.slice(0, 10);
    return iso.slice(5, 16).replace("T", " ");
  }

  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    var raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).find(function (s) { return s >= raw; });
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(v);
    return out;
  }

  function Chart(spec) {
    this.spec = spec;
    this.wrap = document.getElementById(spec.id);
    this.canvas = document.createElement("canvas");
    this.canvas.height = spec.height || 260;
    this.tip = document.createElement("div");
    this.tip.className = "tip";
    this.wrap.appendChild(this.canvas);
    this.wrap.appendChild(this.tip);
    var self = this;
    spec.series.forEach(function (s) {
      if (s.x.length) { full.x0 = Math.min(full.x0, s.x[0]); full.x1 = Math.max(full.x1, s.x[s.x.length - 1]); }
    });
    this.canvas.addEventListener("wheel", function (e) {
      e.preventDefault();
      var f = e.deltaY < 0 ? 0.8 : 1.25;
      zoom(f, self.fracAt(e.offsetX));
    }, { passive: false });
    var drag = null;
    this.canvas.addEventListener("mousedown", function (e) { drag = { x: e.offsetX, v0: view.x0, v1: view.x1 }; });
    window.addEventListener("mouseup", function () { drag = null; });
    this.canvas.addEventListener("mousemove", function (e) {
      if (drag) {
        var dx = (e.offsetX - drag.x) / self.plotW() * (drag.v1 - drag.v0);
        setView(drag.v0 - dx, drag.v1 - dx);
      } else { self.hover(e.offsetX, e.offsetY); }
    });
    this.canvas.addEventListener("mouseleave", function () { self.tip.style.display = "none"; });
    this.canvas.addEventListener("dblclick", function () { reset(); });
  }

  Chart.prototype.plotW = function () { return this.canvas.clientWidth - PAD.l - PAD.r; };
  Chart.prototype.fracAt = function (px) { return Math.min(1, Math.max(0, (px - PAD.l) / this.plotW())); };

  Chart.prototype.yRange = function () {
    var lo = Infinity, hi = -Infinity;
    this.spec.series.forEach(function (s) {
      var ys = s.kind === "band" ? [s.y0, s.y1] : [s.y];
      for (var i = 0; i < s.x.length; i++) {
        if (s.x[i] < view.x0 || s.x[i] > view.x1) continue;
        ys.forEach(function (y) { if (finite(y[i])) { lo = Math.min(lo, y[i]); hi = Math.max(hi, y[i]); } });
      }
    });
    if (!(hi >= lo)) { lo = 0; hi = 1; }
    if (this.spec.zero) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
    var pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
    return [lo - pad, hi + pad];
  };

  Chart.prototype.draw = function () {
    var c = this.canvas, dpr = window.devicePixelRatio || 1, w = c.clientWidth, h = this.spec.height || 260;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); c.style.height = h + "px";
    var g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var yr = this.yRange(), pw = w - PAD.l - PAD.r, ph = h - PAD.t - PAD.b;
    var X = function (x) { return PAD.l + (x - view.x0) / (view.x1 - view.x0) * pw; };
    var Y = function (y) { return PAD.t + (1 - (y - yr[0]) / (yr[1] - yr[0])) * ph; };
    this.X = X; this.Y = Y;
    g.font = "11px sans-serif"; g.strokeStyle = "#ddd"; g.fillStyle = "#444"; g.lineWidth = 1;
    var kind = this.spec.yFormat;
    niceTicks(yr[0], yr[1], 5).forEach(function (v) {
      var y = Math.round(Y(v)) + 0.5;
      g.beginPath(); g.moveTo(PAD.l, y); g.lineTo(PAD.l + pw, y); g.stroke();
      g.textAlign = "right"; g.fillText(fmt(v, kind), PAD.l - 4, y + 4);
    });
    niceTicks(view.x0, view.x1, 6).forEach(function (v) {
      var x = Math.round(X(v)) + 0.5;
      g.beginPath(); g.moveTo(x, PAD.t); g.lineTo(x, PAD.t + ph); g.stroke();
      g.textAlign = "center"; g.fillText(dateLabel(v, view.x1 - view.x0), x, h - 8);
    });
    g.save();
    g.beginPath(); g.rect(PAD.l, PAD.t, pw, ph); g.clip();
    this.spec.series.forEach(function (s) { drawSeries(g, s, X, Y); });
    g.restore();
    var lx = PAD.l + 6;
    this.spec.series.forEach(function (s) {
      g.fillStyle = s.color; g.fillRect(lx, PAD.t + 4, 10, 10);
      g.fillStyle = "#222"; g.textAlign = "left"; g.fillText(s.name, lx + 14, PAD.t + 13);
      lx += 24 + g.measureText(s.name).width;
    });
  };

  function drawSeries(g, s, X, Y) {
    var i, n = s.x.length;
    if (s.kind === "band") {
      g.fillStyle = s.color; g.globalAlpha = s.alpha || 0.25; g.beginPath();
      for (i = 0; i < n; i++) g.lineTo(X(s.x[i]), Y(s.y1[i]));
      for (i = n - 1; i >= 0; i--) g.lineTo(X(s.x[i]), Y(s.y0[i]));
      g.closePath(); g.fill(); g.globalAlpha = 1; return;
    }
    if (s.kind === "markers") {
      g.fillStyle = s.color;
      var up = s.marker === "up";
      for (i = 0; i < n; i++) {
        var x = X(s.x[i]), y = Y(s.y[i]), d = up ? 6 : -6;
        g.beginPath(); g.moveTo(x, y); g.lineTo(x - 4, y + d); g.lineTo(x + 4, y + d); g.closePath(); g.fill();
      }
      return;
    }
    g.strokeStyle = s.color; g.lineWidth = s.width || 1.2; g.beginPath();
    var pen = false;
    for (i = 0; i < n; i++) {
      if (!finite(s.y[i])) { pen = false; continue; }
      if (pen) g.lineTo(X(s.x[i]), Y(s.y[i])); else { g.moveTo(X(s.x[i]), Y(s.y[i])); pen = true; }
    }
    if (s.fill) { g.stroke(); g.lineTo(X(s.x[n - 1]), Y(0)); g.lineTo(X(s.x[0]), Y(0)); g.globalAlpha = 0.3;
      g.fillStyle = s.color; g.fill(); g.globalAlpha = 1; } else { g.stroke(); }
  }

  Chart.prototype.hover = function (px, py) {
    if (!this.X) return;
    var x = view.x0 + this.fracAt(px) * (view.x1 - view.x0), kind = this.spec.yFormat;
    var lines = [dateLabel(x, 0)];
    this.spec.series.forEach(function (s) {
      if (s.kind === "markers" || !s.x.length) return;
      var lo = 0, hi = s.x.length - 1;
      while (hi - lo > 1) { var m = (lo + hi) >> 1; if (s.x[m] <= x) lo = m; else hi = m; }
      var v = s.kind === "band" ? fmt(s.y0[lo], kind) + " .. " + fmt(s.y1[lo], kind) : fmt(s.y[lo], kind);
      lines.push(s.name + ": " + v);
    });
    this.tip.textContent = lines.join("\n");
    this.tip.style.display = "block";
    this.tip.style.left = Math.min(px + 12, this.canvas.clientWidth - 180) + "px";
    this.tip.style.top = py + 12 + "px";
  };

  function setView(x0, x1) {
    var span = Math.min(x1 - x0, full.x1 - full.x0);
    if (x0 < full.x0) { x0 = full.x0; x1 = x0 + span; }
    if (x1 > full.x1) { x1 = full.x1; x0 = x1 - span; }
    view.x0 = x0; view.x1 = x1;
    charts.forEach(function (c) { c.draw(); });
  }
  function zoom(factor, frac) {
    var span = view.x1 - view.x0, minSpan = (full.x1 - full.x0) / 1e5;
    var ns = Math.max(minSpan, span * factor), centre = view.x0 + frac * span;
    setView(centre - frac * ns, centre - frac * ns + ns);
  }
  function reset() { setView(full.x0, full.x1); }

  data.charts.forEach(function (spec) { charts.push(new Chart(spec)); });
  if (!(full.x1 > full.x0)) { full.x0 = 0; full.x1 = 1; }
  view.x0 = full.x0; view.x1 = full.x1;
  var btn = document.getElementById("reset-zoom");
  if (btn) btn.addEventListener("click", reset);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.draw(); }); });
  charts.forEach(function (c) { c.draw(); });
  window.asterrlReport = { view: view, full: full, charts: charts, zoom: zoom, reset: reset, ready: true };
})();
