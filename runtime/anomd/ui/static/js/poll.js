// Runs a refresh now and then every few seconds while the page is visible; one at a time.

export function every(ms, refresh) {
  let timer = null;
  let stopped = false;
  let running = false;

  async function tick() {
    timer = null;
    if (stopped) return;
    if (!document.hidden && !running) {
      running = true;
      try {
        await refresh();
      } catch (err) {
        console.warn("refresh failed:", err.message);
      } finally {
        running = false;
      }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  }

  const onVisible = () => { if (!document.hidden && timer !== null) { clearTimeout(timer); tick(); } };
  document.addEventListener("visibilitychange", onVisible);
  tick();
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
