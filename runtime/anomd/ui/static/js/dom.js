// Building elements and formatting numbers; no framework, text is always set as text.

/** h("td", {class: "num"}, "12") -> <td class="num">12</td>. Children may be nested arrays. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function count(value) {
  return value === null || value === undefined ? "–" : integer.format(value);
}

export function number(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (value === Infinity) return "∞";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toString();
}

export function percent(value, digits = 1) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)}%`;
}

export function bytes(value) {
  if (value === null || value === undefined) return "–";
  const units = ["B", "kB", "MB", "GB"];
  let v = value, i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value === Infinity) return "> 5 min";
  if (value < 1) return `${number(value * 1000, 3)} ms`;
  return `${number(value, 3)} s`;
}

export function duration(s) {
  if (s === null || s === undefined) return "–";
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), mm = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hh} h`;
  if (hh) return `${hh} h ${mm} min`;
  if (mm) return `${mm} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(s)} s`;
}

/** "12 s ago", "3 min ago", or the date for old times; unix seconds in. */
export function ago(unix) {
  if (!unix) return "–";
  const s = Math.max(0, Date.now() / 1000 - unix);
  if (s < 5) return "just now";
  if (s < 86400) return `${duration(s)} ago`;
  return new Date(unix * 1000).toLocaleString();
}

export function clock(unix) {
  return new Date(unix * 1000).toLocaleTimeString([], { hour12: false });
}

export function dateTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Says something to screen readers without moving focus. */
export function announce(text) {
  const el = document.getElementById("announce");
  el.textContent = "";
  setTimeout(() => { el.textContent = text; }, 30);
}

export function statusPill(status) {
  const kind = { ready: "ok", retraining: "warn", collecting: "plain", checkpointed: "plain" }[status] || "plain";
  return h("span", { class: `pill ${kind}` }, status);
}
