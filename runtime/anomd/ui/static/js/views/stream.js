// One stream, live: values, score, threshold and flagged points as they arrive.

import { API, get } from "../api.js";
import { LiveChart } from "../chart.js";
import { announce, clock, count, h, number, percent, replace, statusPill } from "../dom.js";
import { follow } from "../events.js";
import { every } from "../poll.js";
import { PointBuffer } from "../series.js";

const WINDOWS = [["30 s", 30], ["1 min", 60], ["5 min", 300], ["15 min", 900], ["1 h", 3600], ["All kept", 0]];
const RECENT = 12;

export function streamView(main, id) {
  let windowS = Number(sessionStorage.getItem("anomd.window") ?? 60);
  if (!WINDOWS.some(([, s]) => s === windowS)) windowS = 60;
  const facts = h("dl", { class: "facts" });
  const state = h("span", { class: "pill", id: "live-state", role: "status" }, "connecting…");
  const valuesEl = h("div", { class: "chart", id: "values-chart" });
  const scoreEl = h("div", { class: "chart", id: "score-chart" });
  const summary = h("p", { class: "hint", id: "chart-summary" });
  const recent = h("div", { id: "recent-anomalies" }, h("p", { class: "empty" }, "No flagged points yet."));
  const picker = h("fieldset", { class: "window" }, h("legend", {}, "Time window"),
    WINDOWS.map(([label, seconds]) => h("label", {},
      h("input", {
        type: "radio", name: "window", value: seconds, checked: seconds === windowS,
        onchange: () => {
          windowS = seconds;
          sessionStorage.setItem("anomd.window", String(seconds));
          chart?.setWindow(seconds);
        },
      }),
      h("span", {}, label))));
  const valuesTitle = h("span", { class: "legend-note" });

  replace(main,
    h("p", {}, h("a", { href: "#/streams" }, "← All streams")),
    h("div", { class: "head" },
      h("h1", {}, id),
      h("div", { class: "toolbar" }, picker, state)),
    h("section", { class: "panel", "aria-labelledby": "chart-title" },
      h("div", { class: "chart-title" }, h("h2", { id: "chart-title" }, "Values"), valuesTitle),
      h("div", { role: "img", "aria-labelledby": "chart-summary" }, valuesEl),
      h("div", { class: "chart-title" }, h("h3", {}, "Score"),
        h("span", { class: "legend-note" },
          h("span", {}, h("span", { class: "swatch", style: "background:var(--score)" }), "score"),
          h("span", {}, h("span", { class: "swatch dash" }), "threshold"),
          h("span", {}, h("span", { class: "swatch dot", style: "background:var(--bad)" }), "flagged"))),
      h("div", { role: "img", "aria-labelledby": "chart-summary" }, scoreEl),
      summary),
    h("div", { class: "grid-2" },
      h("section", { class: "panel", "aria-labelledby": "recent-title" },
        h("h2", { id: "recent-title" }, "Recent anomalies"), recent),
      h("section", { class: "panel", "aria-labelledby": "facts-title" },
        h("h2", { id: "facts-title" }, "Detector"), facts)));

  let buffer = null;
  let chart = null;
  let lastAnnounced = 0;

  function onPoints(msg) {
    let fresh = false;
    if (!buffer || msg.columns.join("\u0000") !== buffer.columns.join("\u0000") ||
        (buffer.lastSeq !== null && msg.seq <= buffer.lastSeq)) {
      // First message, or the stream was recreated: start over.
      chart?.destroy();
      replace(valuesEl);
      replace(scoreEl);
      buffer = new PointBuffer(msg.columns);
      fresh = true;
      shownRecent = "";
      replace(recent, h("p", { class: "empty" }, "No flagged points yet."));
      chart = new LiveChart(valuesEl, scoreEl, msg.columns);
      chart.setWindow(windowS);
      chart.onDrawn = drawn;
    } else if (msg.dropped) {
      buffer.dropped += msg.dropped;
    }
    const before = buffer.flagged;
    buffer.push(msg);
    chart.update(buffer);
    if (!fresh && buffer.flagged > before && Date.now() - lastAnnounced > 5000) {
      lastAnnounced = Date.now();
      announce(`${buffer.flagged - before} new flagged point${buffer.flagged - before > 1 ? "s" : ""} on ${id}`);
    }
  }

  function drawn(view) {
    const b = buffer;
    const last = b.length ? b.slot(b.length - 1) : null;
    const parts = [
      `${count(view.points)} point${view.points === 1 ? "" : "s"} shown`,
      `${count(view.flagged)} flagged in view`,
    ];
    if (last !== null) {
      parts.push(`newest #${b.seq[last]} at ${clock(b.time[last])}, score ${number(b.score[last])}` +
        `, threshold ${number(b.threshold[last])}`);
    }
    if (b.dropped) parts.push(`${count(b.dropped)} points skipped (connection too slow)`);
    summary.textContent = parts.join(" · ") + ".";
    valuesTitle.textContent = view.points ? `${clock(view.from)} – ${clock(view.to)}` : "";
    summary.dataset.points = view.points;
    summary.dataset.lastSeq = view.lastSeq ?? "";
    summary.dataset.flaggedSeqs = view.flaggedSeqs.join(",");
    renderRecent();
  }

  let shownRecent = "";
  function renderRecent() {
    const rows = buffer.recentFlagged(RECENT);
    const key = rows.map((r) => r.seq).join(",");
    if (!rows.length || key === shownRecent) return;
    shownRecent = key;
    replace(recent, h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Point"), h("th", { scope: "col" }, "Time"),
        h("th", { scope: "col", class: "num" }, "Score"),
        h("th", { scope: "col", class: "opt" }, "Values"))),
      h("tbody", {}, rows.map((r) => h("tr", { "data-seq": r.seq },
        h("td", {}, `#${r.seq}`), h("td", {}, clock(r.time)),
        h("td", { class: "num" }, number(r.score)),
        h("td", { class: "opt mono" }, buffer.columns.map((c, i) => `${c}=${number(r.values[i])}`).join("  "))))))));
  }

  const events = follow(
    (since) => `/ui/api/streams/${encodeURIComponent(id)}/live${since === null ? "" : `?since=${since}`}`,
    {
      resumeFrom: () => (buffer && buffer.lastSeq !== null ? buffer.lastSeq + 1 : null),
      onState: (text, ok) => { state.textContent = text; state.className = `pill ${ok ? "ok" : "warn"}`; },
      onEvent: (type, data) => { if (type === "points") onPoints(data); },
    });

  const stopFacts = every(3000, async () => {
    let s;
    try {
      s = await get(`${API}/stream/${encodeURIComponent(id)}`);
    } catch (err) {
      replace(facts, h("dt", {}, "State"), h("dd", {}, err.status === 404 ? "not created yet (no points)" : err.message));
      return;
    }
    const fact = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
    replace(facts,
      fact("Status", statusPill(s.live ? s.status : "checkpointed")),
      fact("Backend", s.backend),
      fact("Points", `${count(s.total_processed)} received, ${count(s.points_scored)} scored`),
      fact("Flagged", `${count(s.anomalies_detected)} (${percent(s.anomaly_rate)})`),
      fact("Model", `v${s.model_version}, ${s.retrains_completed ?? 0} retrains` +
        (s.retrains_failed ? `, ${s.retrains_failed} failed` : "")),
      fact("Threshold", `${number(s.threshold)} (${s.threshold_mode ?? "learned"})`),
      fact("Window", `${count(s.samples_collected)} of ${count(s.window_size)}; retrain every ${count(s.retrain_interval)}`),
      fact("Features", h("div", { class: "chips" }, (s.features || s.columns || []).map((f) => h("span", { class: "chip" }, f)))),
      s.last_error ? fact("Last error", h("span", { class: "error" }, s.last_error)) : null);
  });

  return () => {
    events.stop();
    stopFacts();
    chart?.destroy();
  };
}
