// Server-Sent Events read with fetch() rather than EventSource, because EventSource cannot send
// the Authorization header. Reconnects by itself, asking for the points after the last one seen.

import { authHeaders } from "./api.js";

/**
 * Follows an event stream until stop() is called.
 * @param {(since: number|null) => string} url  the route, given the point to resume from
 * @param {object} handlers  {onEvent(type, data), onState(text, ok), resumeFrom() -> number|null}
 */
export function follow(url, handlers) {
  const controller = new AbortController();
  let stopped = false;
  let delay = 500;

  async function once() {
    const response = await fetch(url(handlers.resumeFrom()), {
      headers: { accept: "text/event-stream", ...authHeaders() },
      signal: controller.signal,
      cache: "no-store",
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    handlers.onState("live", true);
    delay = 500;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.search(/\r\n\r\n|\n\n|\r\r/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 4 : 2));
        dispatch(block);
      }
    }
  }

  function dispatch(block) {
    let type = "message";
    const data = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) handlers.onEvent(type, JSON.parse(data.join("\n")));
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
        if (!stopped) handlers.onState("reconnecting…", false);
      } catch (err) {
        if (stopped) return;
        handlers.onState(`disconnected (${err.message}); retrying`, false);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  })();

  return {
    stop() {
      stopped = true;
      controller.abort();
    },
  };
}
