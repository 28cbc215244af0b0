// The server: liveness, readiness, and the figures /metrics exports, read as JSON.

import { get } from "../api.js";
import { count, duration, h, percent, replace, seconds } from "../dom.js";
import { every } from "../poll.js";

export function serverView(main) {
  const figures = h("div", { class: "figures", id: "figures" });
  const health = h("dl", { class: "facts" });
  const ready = h("div", {});
  replace(main,
    h("div", { class: "head" }, h("h1", {}, "Server"),
      h("p", { class: "muted", style: "margin:0" }, "Counts since this process started; rates over the last refresh.")),
    figures,
    h("div", { class: "grid-2", style: "margin-top:1rem" },
      h("section", { class: "panel", "aria-labelledby": "health-title" }, h("h2", { id: "health-title" }, "Health"), health),
      h("section", { class: "panel", "aria-labelledby": "ready-title" }, h("h2", { id: "ready-title" }, "Readiness"), ready)));

  let previous = null;
  const stop = every(2000, async () => {
    const f = await get("/ui/api/figures");
    const now = performance.now();
    const rate = (key) => {
      if (!previous) return null;
      const dt = (now - previous.at) / 1000;
      return dt > 0 ? Math.max(0, (f[key] - previous.f[key]) / dt) : null;
    };
    const perS = (key) => { const r = rate(key); return r === null ? "" : `${r < 10 ? r.toFixed(1) : Math.round(r)}/s now`; };
    const card = (label, value, sub = "") => h("div", { class: "figure" },
      h("div", { class: "label" }, label), h("div", { class: "value" }, value), h("div", { class: "sub" }, sub));
    replace(figures,
      card("Requests", count(f.requests), perS("requests")),
      card("Errors", count(f.errors), `${count(f.server_errors)} server errors`),
      card("Latency p50", f.latency_p50_s === null ? "–" : `≤ ${seconds(f.latency_p50_s)}`,
        f.latency_p95_s === null ? "" : `p95 ≤ ${seconds(f.latency_p95_s)}`),
      card("Fits", count(f.fits), `${count(f.fit_failures)} failed`),
      card("Rows scored", count(f.scored_rows), perS("scored_rows")),
      card("Stream points", count(f.stream_points), perS("stream_points")),
      card("Flagged share", percent(f.flagged_share, 2), `${count(f.stream_points_flagged)} of ${count(f.stream_points_scored)} scored`),
      card("Retrains", count(f.retrains), `${count(f.retrain_failures)} failed`),
      card("Live streams", count(f.streams_live), `${count(f.models_cached)} models cached`),
      card("In flight", count(f.in_flight), "requests now"));
    previous = { f, at: now };
  });

  const stopProbes = every(5000, async () => {
    const hb = await get("/health");
    const fact = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
    replace(health,
      fact("Status", h("span", { class: "pill ok" }, hb.status)),
      fact("Version", hb.version),
      fact("Uptime", duration(hb.uptime_s)),
      fact("Storage", h("code", {}, Object.entries(hb.storage).map(([k, v]) => `${k}: ${v}`).join(", "))),
      fact("Backends", count(hb.backends)),
      fact("Plugin failures", hb.plugin_failures ? h("span", { class: "error" }, count(hb.plugin_failures)) : "none"),
      fact("Warmed up", hb.warmed_up ? "yes" : "no"));
    const response = await fetch("/ready", { headers: { accept: "application/json" } });
    const rb = await response.json();
    replace(ready,
      h("p", {}, h("span", { class: `pill ${rb.status === "ready" ? "ok" : "bad"}` }, rb.status)),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Check"), h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Detail"))),
        h("tbody", {}, Object.entries(rb.checks).map(([name, c]) => h("tr", {},
          h("td", {}, name),
          h("td", {}, h("span", { class: `pill ${c.ok ? "ok" : "bad"}` }, c.ok ? "ok" : "failing")),
          h("td", {}, c.error ?? (c.latency_ms !== undefined ? `${c.latency_ms} ms` : c.backends !== undefined ? `${c.backends} backends` : "")))))))
    );
  });

  return () => { stop(); stopProbes(); };
}
