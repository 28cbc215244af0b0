// The dashboard's shell: a hash router over the views, the API-key dialog and the health pill.

import { currentKey, onKeyNeeded, setKey } from "./api.js";
import { h, replace } from "./dom.js";
import { every } from "./poll.js";
import { catalogView } from "./views/catalog.js";
import { modelView, modelsView } from "./views/models.js";
import { serverView } from "./views/server.js";
import { streamView } from "./views/stream.js";
import { streamsView } from "./views/streams.js";

const main = document.getElementById("main");
let leave = () => {};

function route() {
  const [, section = "streams", ...rest] = location.hash.replace(/^#/, "").split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : null;
  leave();
  document.querySelectorAll(".tabs a").forEach((a) => {
    if (a.dataset.tab === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  const views = {
    streams: () => (arg ? streamView(main, arg) : streamsView(main)),
    models: () => (arg ? modelView(main, arg) : modelsView(main)),
    backends: () => catalogView(main),
    server: () => serverView(main),
  };
  const view = views[section];
  if (!view) {
    replace(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/streams" }, "Back to streams")));
    leave = () => {};
    return;
  }
  document.title = `${arg ?? section[0].toUpperCase() + section.slice(1)} · anomd`;
  leave = view() || (() => {});
}

// -- API key --------------------------------------------------------------------------------
const keyDialog = document.getElementById("key-dialog");
const keyInput = document.getElementById("key-input");
const keyButton = document.getElementById("key-button");
let keyResolve = null;

function showKeyButton() {
  keyButton.textContent = currentKey() ? "API key ✓" : "API key";
}

function openKeyDialog(reason) {
  document.getElementById("key-reason").textContent = reason ||
    "A read key shows everything; deleting models needs an admin key.";
  keyInput.value = "";
  keyDialog.showModal();
  keyInput.focus();
}

onKeyNeeded((reason) => new Promise((resolve) => {
  keyResolve = resolve;
  openKeyDialog(`This server needs an API key (${reason}). A read key shows everything; deleting models needs an admin key.`);
}));

function finishKey(ok) {
  keyDialog.close();
  showKeyButton();
  if (keyResolve) { keyResolve(ok); keyResolve = null; }
  else if (ok) route();
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setKey(keyInput.value.trim());
  finishKey(true);
});
document.getElementById("key-cancel").addEventListener("click", () => finishKey(false));
document.getElementById("key-forget").addEventListener("click", () => { setKey(""); finishKey(false); });
keyDialog.addEventListener("cancel", () => { if (keyResolve) { keyResolve(false); keyResolve = null; } });
keyButton.addEventListener("click", () => openKeyDialog());

// -- header: version and readiness ----------------------------------------------------------
const pill = document.getElementById("health");
every(10000, async () => {
  try {
    const response = await fetch("/ready", { headers: { accept: "application/json" } });
    const body = await response.json();
    pill.className = `pill ${response.ok ? "ok" : "bad"}`;
    pill.textContent = response.ok ? "ready" : "not ready";
    const health = await (await fetch("/health")).json();
    document.getElementById("version").textContent = `v${health.version}`;
    pill.title = Object.entries(body.checks).map(([k, c]) => `${k}: ${c.ok ? "ok" : c.error}`).join("; ");
  } catch {
    pill.className = "pill bad";
    pill.textContent = "unreachable";
  }
});

showKeyButton();
window.addEventListener("hashchange", route);
route();
