// Stored models: the list, one model's manifest, and deleting one (admin key, confirmed first).

import { API, del, get } from "../api.js";
import { announce, bytes, count, dateTime, h, number, replace } from "../dom.js";

const path = (filename) => `${API}/models/${encodeURIComponent(filename)}`;

export function modelsView(main) {
  const body = h("div", {}, h("p", { class: "loading" }, "Loading models…"));
  replace(main,
    h("div", { class: "head" }, h("h1", {}, "Models"),
      h("button", { type: "button", onclick: () => load() }, "Refresh")),
    h("section", { class: "panel", "aria-labelledby": "models-title" },
      h("h2", { id: "models-title", class: "sr-only" }, "Stored models"), body));

  async function load() {
    const { data } = await get(`${API}/models`);
    if (!data.length) {
      replace(body, h("p", { class: "empty" }, "No stored models. Fit one with POST /v1/ml/anomaly/fit."));
      return;
    }
    replace(body, h("div", { class: "table-wrap" }, h("table", { id: "models-table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Model"), h("th", { scope: "col" }, "Backend"),
        h("th", { scope: "col", class: "num opt" }, "Rows"), h("th", { scope: "col", class: "num opt" }, "Columns"),
        h("th", { scope: "col", class: "num opt" }, "Size"), h("th", { scope: "col", class: "opt" }, "Created"),
        h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", {}, data.map((m) => h("tr", { "data-model": m.filename },
        h("td", {}, h("a", { href: `#/models/${encodeURIComponent(m.filename)}` }, m.name ?? m.filename),
          m.error ? h("div", { class: "error hint" }, m.error) : null),
        h("td", {}, m.backend ?? "–"),
        h("td", { class: "num opt" }, count(m.samples_fitted)),
        h("td", { class: "num opt" }, count(m.input_dim)),
        h("td", { class: "num opt" }, bytes(m.size_bytes)),
        h("td", { class: "opt" }, dateTime(m.created)),
        h("td", { class: "num" }, h("button", {
          type: "button", class: "ghost", "aria-label": `Delete ${m.filename}`,
          onclick: () => confirmDelete(m.filename, load),
        }, "Delete"))))))));
  }

  load().catch((err) => replace(body, h("p", { class: "error" }, err.message)));
  return () => {};
}

export function modelView(main, filename) {
  const body = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  replace(main, h("p", {}, h("a", { href: "#/models" }, "← All models")), body);
  get(path(filename)).then((m) => {
    const fact = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
    const params = Object.entries(m.params || {});
    replace(body,
      h("div", { class: "head" }, h("h1", {}, m.name),
        h("button", { type: "button", class: "danger", onclick: () => confirmDelete(filename, () => { location.hash = "#/models"; }) }, "Delete model")),
      h("div", { class: "grid-2" },
        h("section", { class: "panel", "aria-labelledby": "m-scoring" },
          h("h2", { id: "m-scoring" }, "Scoring"),
          h("dl", { class: "facts" },
            fact("Backend", m.backend),
            fact("Threshold", `${number(m.threshold)} (${m.normalization}); raw ${number(m.raw_threshold)}`),
            fact("Contamination", number(m.contamination)),
            fact("Features", h("div", { class: "chips" }, (m.feature_names || []).map((f) => h("span", { class: "chip" }, f)))),
            m.encoder ? fact("Encoder", h("code", {}, JSON.stringify(m.encoder))) : null)),
        h("section", { class: "panel", "aria-labelledby": "m-training" },
          h("h2", { id: "m-training" }, "Training"),
          h("dl", { class: "facts" },
            fact("Rows", count(m.samples_fitted)),
            fact("Columns", count(m.input_dim)),
            fact("Fit time", `${number(m.training_time_ms, 3)} ms`),
            fact("Created", dateTime(m.created)),
            fact("Description", m.description ?? "–")))),
      h("section", { class: "panel", "aria-labelledby": "m-params" },
        h("h2", { id: "m-params" }, "Parameters"),
        params.length ? h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Parameter"), h("th", { scope: "col" }, "Value"))),
          h("tbody", {}, params.map(([k, v]) => h("tr", {}, h("td", {}, h("code", {}, k)), h("td", { class: "mono" }, JSON.stringify(v)))))))
          : h("p", { class: "empty" }, "The backend's defaults.")),
      h("section", { class: "panel", "aria-labelledby": "m-artifact" },
        h("h2", { id: "m-artifact" }, "Artifact"),
        h("dl", { class: "facts" },
          fact("Signature", h("span", { class: "pill ok" }, "manifest signature verified")),
          fact("File", h("code", {}, m.filename)),
          fact("Size", bytes(m.size_bytes)),
          fact("Content hash", h("code", {}, m.content_hash)),
          fact("Format", `version ${m.format_version}`),
          fact("Stored at", h("code", {}, m.saved_path)),
          fact("Plugin", m.plugin ?? "–"),
          fact("Libraries", h("div", { class: "chips" }, Object.entries(m.library_versions || {}).map(([k, v]) => h("span", { class: "chip" }, `${k} ${v}`)))))));
  }).catch((err) => {
    const text = err.status === 409
      ? `The artifact's signature or integrity check failed: ${err.message}`
      : err.message;
    replace(body, h("p", { class: err.status === 409 ? "error" : "" }, text));
  });
  return () => {};
}

/** Asks before deleting; the server refuses a read-only key (403) and the dialog says so. */
export function confirmDelete(filename, done) {
  const dialog = document.getElementById("confirm-dialog");
  const error = document.getElementById("confirm-error");
  const ok = document.getElementById("confirm-ok");
  const cancel = document.getElementById("confirm-cancel");
  document.getElementById("confirm-text").textContent =
    `Delete ${filename}? It is removed from storage and memory; clients scoring with it get 404 until it is fitted again.`;
  error.hidden = true;
  ok.disabled = false;
  const opener = document.activeElement;

  const close = () => {
    ok.onclick = cancel.onclick = null;
    dialog.close();
    opener?.focus?.();
  };
  cancel.onclick = close;
  ok.onclick = async () => {
    ok.disabled = true;
    try {
      await del(path(filename));
      close();
      announce(`Deleted ${filename}`);
      done();
    } catch (err) {
      error.hidden = false;
      error.textContent = err.status === 403
        ? "This API key may only read; deleting a model needs an admin key."
        : `Not deleted: ${err.message}`;
      ok.disabled = false;
    }
  };
  dialog.showModal();
  cancel.focus();
}
