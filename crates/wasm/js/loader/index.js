// crypto-health package entry. Wraps the wasm-bindgen `--target web` module
// with one shared init promise: overlapping callers never instantiate twice
// (cinnyapp/cinny vite.config.js, src/client/initMatrix.ts: Cinny's Vite setup needs an explicit, shared init()).

import init, * as wasm from './crypto_health.js';
// The console tap (scripts/build.mjs points this at wasm-bindgen's copy of js/tap.js).
import { tapEarly } from './snippets/tap.js';

export * from './crypto_health.js';

// From the moment the package is imported, console lines go to a small bounded
// buffer; installCryptoDiagLog() feeds them in once the wasm is ready.
try { tapEarly(); } catch (_) { /* no console here: capture starts at install */ }

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
 * on), ask for persistent storage, check the crypto store and, with
 * `tabGuard: true` (or the guard's options; default off), acquire the
 * multi-tab guard. With `mx` (the MatrixClient, once it exists), also watch
 * its decryption results (why messages fail to decrypt). Never rejects once
 * loaded: resolves `{ api, installed, httpTap, storage, finding, tabGuard,
 * unwatchDecryption }`, `tabGuard` being the role (`primary` | `secondary` |
 * `unsupported`) or null when not asked, `unwatchDecryption` a function or null.
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
  let tabGuard = null;
  const guard = options && options.tabGuard;
  if (guard) {
    try {
      tabGuard = await api.acquireTabGuard(guard === true ? undefined : guard);
    } catch (_) { /* bad guard options: no guard */ }
  }
  let unwatchDecryption = null;
  if (options && options.mx) {
    try { unwatchDecryption = api.watchDecryption(options.mx); } catch (_) { /* not a client: no watcher */ }
  }
  return { api, installed, httpTap, storage, finding, tabGuard, unwatchDecryption };
}
