// The live chart of one stream: its values on top, score and threshold below, flagged points
// marked on both. Drawn with uPlot (vendored). Redraws are batched: data may arrive a hundred
// times a second, the canvas is repainted at most five times a second, and only while visible.

import { clock, number } from "./dom.js";

const MIN_REDRAW_MS = 200;
const SERIES_COLOURS = 6;

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function palette() {
  return {
    text: cssVar("--muted"), grid: cssVar("--chart-grid"), bad: cssVar("--bad"),
    score: cssVar("--score"), threshold: cssVar("--threshold"),
    series: Array.from({ length: SERIES_COLOURS }, (_, i) => cssVar(`--series-${i + 1}`)),
  };
}

function withAlpha(colour, alpha) {
  // Works for #rrggbb, which is all the stylesheet uses.
  const n = parseInt(colour.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export class LiveChart {
  /**
   * @param {HTMLElement} valuesEl  container of the values chart
   * @param {HTMLElement} scoreEl   container of the score chart
   * @param {string[]} columns      the charted value columns
   */
  constructor(valuesEl, scoreEl, columns) {
    this.valuesEl = valuesEl;
    this.scoreEl = scoreEl;
    this.columns = columns;
    this.windowS = 60;
    this.buffer = null;
    this.view = { x: [], time: [], flagged: [] };
    this.pending = false;
    this.lastDraw = 0;
    this.drawn = { points: 0, lastSeq: null, flagged: 0, flaggedSeqs: [] };
    this.onDrawn = () => {};
    this.build();
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(valuesEl);
    this.scheme = matchMedia("(prefers-color-scheme: dark)");
    this.onScheme = () => { this.destroyPlots(); this.build(); this.draw(); };
    this.scheme.addEventListener("change", this.onScheme);
  }

  build() {
    const colours = palette();
    const width = Math.max(280, this.valuesEl.clientWidth);
    const narrow = width < 600;
    const self = this;
    const xAxis = {
      stroke: colours.text, grid: { stroke: colours.grid, width: 1 }, ticks: { stroke: colours.grid, width: 1 },
      space: narrow ? 60 : 80,
      // Point numbers: many points can share one second, so clock times would repeat; the
      // time of each point is in the legend on hover, the span of the view above the chart.
      incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7],
      values: (u, splits) => splits.map((s) => `#${Math.round(s)}`),
    };
    const yAxis = { stroke: colours.text, grid: { stroke: colours.grid, width: 1 }, ticks: { show: false }, size: 56 };
    const xSeries = { label: "point", value: (u, v) => (v === null ? "–" : `#${v} · ${self.clockAt(v)}`) };
    const cursor = { sync: { key: `anomd-${Math.random()}` }, drag: { x: false, y: false }, points: { size: 6 } };
    const flagLines = (u) => {
      const { ctx, bbox } = u;
      const { x, flagged } = self.view;
      if (!flagged.length) return;
      ctx.save();
      ctx.setLineDash([]);
      ctx.strokeStyle = withAlpha(colours.bad, 0.55);
      ctx.lineWidth = Math.max(1, devicePixelRatio);
      ctx.beginPath();
      for (const i of flagged) {
        const px = Math.round(u.valToPos(x[i], "x", true));
        ctx.moveTo(px, bbox.top);
        ctx.lineTo(px, bbox.top + bbox.height);
      }
      ctx.stroke();
      ctx.restore();
    };

    this.values = new uPlot({
      width, height: narrow ? 200 : 260,
      scales: { x: { time: false } },
      axes: [xAxis, yAxis],
      series: [
        xSeries,
        ...this.columns.map((name, i) => ({
          label: name, stroke: colours.series[i % SERIES_COLOURS], width: 1.5, spanGaps: false,
          points: { show: false }, value: (u, v) => number(v),
        })),
      ],
      cursor, legend: { live: true }, hooks: { draw: [flagLines] },
    }, this.emptyData(this.columns.length), this.valuesEl);

    const dots = (u, seriesIdx, i0, i1) => {
      // Flagged points as filled dots, drawn by hand (no line between them).
      const { ctx } = u;
      const ys = u.data[seriesIdx];
      const r = 4.5 * devicePixelRatio;
      ctx.save();
      ctx.fillStyle = colours.bad;
      ctx.strokeStyle = cssVar("--panel") || "#fff";
      ctx.lineWidth = devicePixelRatio;
      for (let i = i0; i <= i1; i++) {
        if (ys[i] === null) continue;
        const px = u.valToPos(u.data[0][i], "x", true), py = u.valToPos(ys[i], "y", true);
        ctx.beginPath();
        ctx.arc(px, py, r, 0, 2 * Math.PI);
        ctx.fill();
        ctx.stroke();
      }
      ctx.restore();
      return null;
    };
    this.score = new uPlot({
      width, height: narrow ? 150 : 180,
      scales: { x: { time: false }, y: { range: (u, min, max) => [Math.min(0, min ?? 0), Math.max(1, max ?? 1)] } },
      axes: [xAxis, yAxis],
      series: [
        xSeries,
        { label: "score", stroke: colours.score, width: 1.5, points: { show: false }, value: (u, v) => number(v) },
        { label: "threshold", stroke: colours.threshold, width: 1.5, dash: [6, 4], points: { show: false },
          paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => number(v) },
        { label: "flagged", stroke: colours.bad, fill: colours.bad, width: 0, paths: dots,
          points: { show: false }, value: (u, v) => (v === null ? "–" : "yes") },
      ],
      cursor, legend: { live: true }, hooks: { draw: [flagLines] },
    }, this.emptyData(3), this.scoreEl);
  }

  emptyData(series) {
    return [[], ...Array.from({ length: series }, () => [])];
  }

  clockAt(seq) {
    const { x, time } = this.view;
    if (!x.length) return "";
    let lo = 0, hi = x.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x[mid] < seq) lo = mid + 1;
      else hi = mid;
    }
    return time[lo] ? clock(time[lo]) : "";
  }

  setWindow(seconds) {
    this.windowS = seconds;
    this.draw();
  }

  /** Marks the chart for a redraw from ``buffer``; several calls before the next frame are one. */
  update(buffer) {
    this.buffer = buffer;
    if (this.pending) return;
    this.pending = true;
    const wait = Math.max(0, MIN_REDRAW_MS - (performance.now() - this.lastDraw));
    setTimeout(() => requestAnimationFrame(() => { this.pending = false; this.draw(); }), wait);
  }

  draw() {
    if (!this.values || !this.buffer) return;
    this.lastDraw = performance.now();
    const b = this.buffer;
    let first = 0;
    if (this.windowS && b.length) {
      const newest = b.time[b.slot(b.length - 1)];
      first = b.firstAfter(newest - this.windowS);
    }
    const n = b.length - first;
    const x = new Array(n), time = new Array(n), score = new Array(n), thr = new Array(n), dots = new Array(n);
    const vals = b.values.map(() => new Array(n));
    const flagged = [];
    for (let i = 0; i < n; i++) {
      const s = b.slot(first + i);
      x[i] = b.seq[s];
      time[i] = b.time[s];
      const sc = b.score[s], th = b.threshold[s];
      score[i] = Number.isNaN(sc) ? null : sc;
      thr[i] = Number.isNaN(th) ? null : th;
      const isFlagged = b.flag[s] === 1;
      dots[i] = isFlagged ? score[i] : null;
      if (isFlagged) flagged.push(i);
      for (let c = 0; c < vals.length; c++) {
        const v = b.values[c][s];
        vals[c][i] = Number.isNaN(v) ? null : v;
      }
    }
    this.view = { x, time, flagged };
    this.values.setData([x, ...vals]);
    this.score.setData([x, score, thr, dots]);
    this.drawn = {
      points: n, lastSeq: n ? x[n - 1] : null, flagged: flagged.length,
      from: n ? time[0] : null, to: n ? time[n - 1] : null,
      flaggedSeqs: flagged.slice(-50).map((i) => x[i]),
    };
    this.onDrawn(this.drawn);
  }

  resize() {
    if (!this.values) return;
    const width = Math.max(280, this.valuesEl.clientWidth);
    if (Math.abs(width - this.values.width) < 2) return;
    const narrow = width < 600;
    this.values.setSize({ width, height: narrow ? 200 : 260 });
    this.score.setSize({ width, height: narrow ? 150 : 180 });
  }

  destroyPlots() {
    this.values?.destroy();
    this.score?.destroy();
    this.values = this.score = null;
  }

  destroy() {
    this.resizer.disconnect();
    this.scheme.removeEventListener("change", this.onScheme);
    this.destroyPlots();
  }
}
