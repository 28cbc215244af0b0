// Every stream: status, points, model version, flagged share, last anomaly.

import { get } from "../api.js";
import { ago, count, h, percent, replace, statusPill } from "../dom.js";
import { every } from "../poll.js";

export function streamsView(main) {
  const body = h("div", {}, h("p", { class: "loading" }, "Loading streams…"));
  replace(main,
    h("div", { class: "head" },
      h("h1", {}, "Streams"),
      h("p", { class: "muted", style: "margin:0" }, "Refreshed every 2 s. Open a stream for its live chart.")),
    h("section", { class: "panel", "aria-labelledby": "streams-title" },
      h("h2", { id: "streams-title", class: "sr-only" }, "Stream list"), body));

  const stop = every(2000, async () => {
    const { data } = await get("/ui/api/streams");
    if (!data.length) {
      replace(body, h("p", { class: "empty" },
        "No streams yet. Send points to POST /v1/ml/anomaly/stream and they appear here."));
      return;
    }
    const open = (id) => { location.hash = `#/streams/${encodeURIComponent(id)}`; };
    replace(body, h("div", { class: "table-wrap" }, h("table", { id: "streams-table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Stream"), h("th", { scope: "col" }, "Status"),
        h("th", { scope: "col", class: "num" }, "Points"),
        h("th", { scope: "col", class: "num opt" }, "Model"),
        h("th", { scope: "col", class: "num" }, "Flagged"),
        h("th", { scope: "col", class: "opt" }, "Last anomaly"),
        h("th", { scope: "col", class: "opt" }, "Backend"))),
      h("tbody", {}, data.map((row) => {
        const status = row.error ? "unreadable" : row.live ? row.status : "checkpointed";
        const share = row.anomaly_rate;
        return h("tr", { class: "link", "data-stream": row.model_id, onclick: () => open(row.model_id) },
          h("td", {}, h("a", { href: `#/streams/${encodeURIComponent(row.model_id)}` }, row.model_id)),
          h("td", {}, statusPill(status)),
          h("td", { class: "num" }, count(row.total_processed)),
          h("td", { class: "num opt" }, row.model_version === null ? "–" : `v${row.model_version}`),
          h("td", { class: `num flagged-share${share > 0.2 ? " high" : ""}` },
            row.points_scored ? `${percent(share)} (${count(row.anomalies_detected)})` : "–"),
          h("td", { class: "opt", title: row.last_anomaly_at ? `point #${row.last_anomaly_seq}` : null },
            row.last_anomaly_at ? ago(row.last_anomaly_at) : "–"),
          h("td", { class: "opt" }, row.backend ?? "–"));
      })))));
  });
  return stop;
}
