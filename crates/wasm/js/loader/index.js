// crypto-health package entry. Wraps the wasm-bindgen `--target web` module
// with one shared init promise: overlapping callers never instantiate twice
// (REFERENCE §6: Cinny's Vite setup needs an explicit, shared init()).

import init, * as wasm from './crypto_health.js';

export * from './crypto_health.js';

let ready = null;

/**
 * Load and instantiate the wasm module once. Every caller gets the same
 * promise; after a failure the next call tries again.
 * @param {string | URL | Request | Response | BufferSource | WebAssembly.Module} [moduleOrPath]
 */
export function loadCryptoHealth(moduleOrPath) {
  if (ready === null) {
    const arg = moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath };
    ready = init(arg).then(() => wasm);
    ready.catch(() => { ready = null; });
  }
  return ready;
}

/**
 * Everything the app entry needs, in one call: load, install console capture
 * and the fetch tap (`httpTap: false` to skip it; `breakUploadStorm` is passed
 * on), ask for persistent storage, check the crypto store. Never rejects once
 * loaded: resolves `{ api, installed, httpTap, storage, finding }`.
 */
export async function startCryptoHealth(options) {
  const api = await loadCryptoHealth(options && options.moduleOrPath);
  let installed = false;
  let httpTap = false;
  try { installed = api.installCryptoDiagLog(options); } catch (_) { /* bad options: capture stays off */ }
  if (!(options && options.httpTap === false)) {
    try { httpTap = api.installHttpTap(options); } catch (_) { /* bad options: tap stays off */ }
  }
  const storage = await api.requestPersistentStorage();
  const finding = await api.checkCryptoStoreConsistency();
  return { api, installed, httpTap, storage, finding };
}
