// Page-side probes shared by stage `forks` and its startup benchmark, installed with
// context.addInitScript (they run in the page before its own scripts).

/**
 * `window.__home`: when the logged-in home view is up (the sidebar's user-settings avatar, initials
 * in a span inside a button), in ms from navigation start. `window.__wasmAt`: when the package's
 * wasm was requested, same clock (a PerformanceObserver: the resource timing buffer of a page as
 * busy as Cinny's can be full before the wasm comes).
 */
export const HOME_PROBE = () => {
  window.__home = null;
  window.__wasmAt = null;
  const seen = () => [...document.querySelectorAll('button')].some((x) => x.querySelector(':scope > span') && x.textContent.trim().length > 0 && x.textContent.trim().length <= 2);
  const obs = new MutationObserver(() => {
    if (window.__home === null && seen()) {
      window.__home = performance.now();
      obs.disconnect();
    }
  });
  obs.observe(document, { childList: true, subtree: true });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (window.__wasmAt === null && /crypto_health_bg[^/]*\.wasm/.test(e.name)) window.__wasmAt = e.startTime;
    }).observe({ type: 'resource', buffered: true });
  } catch {
    // no PerformanceObserver: __wasmAt stays null
  }
};
