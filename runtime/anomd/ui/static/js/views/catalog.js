// What this server can run: detectors (backends) and streaming feature transforms, each with
// the JSON schema of its parameters shown as a table.

import { API, get } from "../api.js";
import { h, replace } from "../dom.js";

function bounds(s) {
  const parts = [];
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  if (s.minItems !== undefined) parts.push(`at least ${s.minItems}`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

/** "integer (≥ 1, ≤ 10000)", "number (> 0, ≤ 1) or \"auto\"": each alternative with its bounds. */
function typeOf(schema) {
  if (!schema) return "";
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(" or ");
  if (schema.type === "array") return `list of ${typeOf(schema.items) || "values"}${bounds(schema)}`;
  return (schema.type || "any") + bounds(schema);
}

export function paramsTable(schema) {
  const props = Object.entries(schema?.properties || {});
  if (!props.length) return h("p", { class: "hint" }, "No parameters.");
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Parameter"), h("th", { scope: "col" }, "Type and range"),
      h("th", { scope: "col" }, "Default"))),
    h("tbody", {}, props.map(([name, p]) => h("tr", {},
      h("td", {}, h("code", {}, name), p.description ? h("div", { class: "hint" }, p.description) : null),
      h("td", {}, typeOf(p)),
      h("td", { class: "mono" }, p.default === undefined ? "–" : JSON.stringify(p.default)))))));
}

export function catalogView(main) {
  const backends = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  const transforms = h("div", {});
  replace(main,
    h("div", { class: "head" }, h("h1", {}, "Backends and transforms")),
    h("h2", {}, "Detectors"), backends,
    h("h2", {}, "Streaming transforms"), transforms);

  get(`${API}/backends`).then(({ data }) => replace(backends, data.map((b) =>
    h("details", { class: "panel", id: `backend-${b.backend}` },
      h("summary", {},
        h("strong", {}, b.backend), " ",
        h("span", { class: `pill ${b.available ? "ok" : "bad"}` }, b.available ? "available" : (b.enabled ? "not installed" : "disabled")),
        " ", h("span", { class: "muted" }, b.name)),
      h("p", {}, b.description),
      h("p", { class: "hint" }, `Speed: ${b.speed} · memory: ${b.memory} · best for: ${b.best_for} · plugin: ${b.plugin}`),
      b.install_hint ? h("p", { class: "error" }, b.install_hint) : null,
      paramsTable(b.parameters)))))
    .catch((err) => replace(backends, h("p", { class: "error" }, err.message)));

  get("/ui/api/transforms").then(({ data }) => replace(transforms, data.map((t) =>
    h("details", { class: "panel", id: `transform-${t.transform}` },
      h("summary", {}, h("strong", {}, t.transform), " ", h("span", { class: "muted" }, t.plugin)),
      h("p", {}, t.description),
      paramsTable(t.options)))))
    .catch((err) => replace(transforms, h("p", { class: "error" }, err.message)));
  return () => {};
}
