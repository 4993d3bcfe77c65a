// The app-entry start for a client such as Cinny: one call at load, not awaited before the
// first render. It starts loading the package's wasm at once, then, after the app's first
// frame, installs the console and fetch taps (storm breaker on unless
// `breakUploadStorm: false`), asks for persistent storage, checks the crypto store and
// acquires the tab guard; TabGuardGate holds only the Matrix client back until the tab's role
// is known. Never rejects and never throws into the app.
import { loadCryptoHealth, startCryptoHealth } from 'crypto-health';
import type { HttpTapOptions, InstallOptions, StorageState, TabGuardOptions } from 'crypto-health';
import type { KitApi } from './api';

export interface BootOptions extends InstallOptions, HttpTapOptions {
  /** Install the fetch tap (default true). */
  httpTap?: boolean;
  /**
   * Start right away instead of after the app's first frame (default false). The
   * promise exists at once either way, so TabGuardGate waits for it.
   */
  immediate?: boolean;
  /**
   * The tab guard: its options (for Cinny the session's user and device id), `true` for
   * the defaults, `false` for none. Default `true`. Without `onStolen`, a tab that
   * loses the guard reloads, which brings it back as the secondary.
   */
  tabGuard?: boolean | TabGuardOptions;
}

export interface BootResult {
  api: KitApi | null;
  /** The tab role (`primary` | `secondary` | `unsupported`), or null without a guard. */
  role: string | null;
  storage: StorageState | null;
  error: string | null;
}

let booting: Promise<BootResult> | null = null;

// After the app's first frame (or 100 ms, for tabs that start hidden and get no frames): the
// taps and checks then never compete with the first render (the wasm loads meanwhile).
function afterFirstFrame(): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const go = () => {
      if (done) return;
      done = true;
      resolve();
    };
    try {
      requestAnimationFrame(() => setTimeout(go, 0));
    } catch {
      // no requestAnimationFrame (workers, tests): the timer below
    }
    setTimeout(go, 100);
  });
}

function reload(): void {
  try {
    window.location.reload();
  } catch {
    // no window (tests): nothing to stop
  }
}

async function run(options: BootOptions): Promise<BootResult> {
  const { tabGuard = true, immediate = false, ...rest } = options;
  // The wasm is fetched and compiled from now on (one shared promise), while the app renders
  // its first frame: the client root, held until the role is known, waits for the longer of
  // the two, not for their sum.
  const loading = Promise.resolve()
    .then(() => loadCryptoHealth())
    .catch(() => null);
  if (!immediate) await afterFirstFrame();
  await loading;
  let started;
  try {
    started = await startCryptoHealth({ breakUploadStorm: true, ...rest, tabGuard: false });
  } catch (e) {
    return { api: null, role: null, storage: null, error: String(e) };
  }
  const api = started.api as KitApi;
  let role: string | null = null;
  if (tabGuard && typeof api.acquireTabGuard === 'function') {
    const given: TabGuardOptions = tabGuard === true ? {} : tabGuard;
    try {
      // A reload of this very tab can still hold the lock for a moment: wait for it.
      role = await api.acquireTabGuard({ onStolen: reload, timeoutMs: 1500, ...given });
    } catch {
      role = null; // bad options: no guard, the client runs
    }
  }
  return { api, role, storage: started.storage ?? null, error: null };
}

/** Start crypto-health once for this page; later calls return the same promise. */
export function bootCryptoHealth(options: BootOptions = {}): Promise<BootResult> {
  if (booting === null) {
    booting = run(options).catch((e: unknown) => ({
      api: null,
      role: null,
      storage: null,
      error: String(e),
    }));
  }
  return booting;
}

/** The promise of an earlier bootCryptoHealth() call, or null when the app did not call it. */
export function cryptoHealthBooting(): Promise<BootResult> | null {
  return booting;
}
