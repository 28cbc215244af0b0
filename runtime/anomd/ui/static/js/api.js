// Calls to the server: the public API and the dashboard's own routes, with the API key if one
// was given. A 401 asks for a key (once, for every call waiting on it) and retries.

const KEY = "anomd.apiKey";
export const API = "/v1/ml/anomaly";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export function currentKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export function authHeaders() {
  const key = currentKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

let askForKey = async () => false;
let pendingAsk = null;

/** Installs what asks the user for a key; it resolves to true once a new key is set. */
export function onKeyNeeded(ask) {
  askForKey = ask;
}

async function keyNeeded(reason) {
  if (!pendingAsk) pendingAsk = askForKey(reason).finally(() => { pendingAsk = null; });
  return pendingAsk;
}

async function problem(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

/** JSON from the server; throws ApiError with the problem's detail on any other answer. */
export async function request(path, options = {}) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(path, {
      ...options,
      headers: { accept: "application/json", ...authHeaders(), ...(options.headers || {}) },
    });
    if (response.status === 401 && attempt < 3) {
      const detail = await problem(response);
      if (await keyNeeded(detail)) continue;
      throw new ApiError(401, detail);
    }
    if (!response.ok) throw new ApiError(response.status, await problem(response));
    return response.status === 204 ? null : response.json();
  }
}

export const get = (path) => request(path);
export const del = (path) => request(path, { method: "DELETE" });
