// The app-entry start for a client such as Cinny: one call at load, not awaited before the
// first render. It claims the tab's start (tabStart.ts): a tab alone on the origin lets its
// Matrix client start at once and loads the package's wasm only once the app needs it (a kit
// component under the live client or the card asks for it) or after `loadAfterMs`; any other
// tab loads it at once, since its role waits for the wasm's tab guard. Then it installs the
// console and fetch taps (storm breaker on unless `breakUploadStorm: false`; the package has
// kept console lines and the IndexedDB list since its import), asks for persistent storage,
// checks the crypto store and acquires the tab guard. TabGuardGate holds only the Matrix
// client back, and only until the tab's role is known. Never rejects, never throws into the app.
import { loadCryptoHealth, startCryptoHealth } from 'crypto-health';
import type { HttpTapOptions, InstallOptions, StorageState, TabGuardOptions } from 'crypto-health';
import type { KitApi } from './api';
import { TabStart, claimTabStart } from './tabStart';

export interface BootOptions extends InstallOptions, HttpTapOptions {
  /** Install the fetch tap (default true). */
  httpTap?: boolean;
  /**
   * Load the wasm and start right away, instead of after the app's first frame or, in a
   * tab alone on the origin, once the app needs the package (default false).
   */
  immediate?: boolean;
  /**
   * The tab guard: its options (for Cinny the session's user and device id), `true` for
   * the defaults, `false` for none. Default `true`. Without `onStolen`, a tab that
   * loses the guard reloads, which brings it back as the secondary.
   */
  tabGuard?: boolean | TabGuardOptions;
  /**
   * In a tab alone on the origin, load the wasm at the latest this long after boot (default
   * 30000 ms) when no kit component asked for it earlier. Other tabs load it at once.
   */
  loadAfterMs?: number;
}

export interface BootResult {
  api: KitApi | null;
  /** The tab role (`primary` | `secondary` | `unsupported`), or null without a guard. */
  role: string | null;
  storage: StorageState | null;
  error: string | null;
}

let booting: Promise<BootResult> | null = null;
let starting: Promise<TabStart> | null = null;
let claimed: TabStart | null = null; // `starting`, once settled
let wanted: (() => void) | null = null;
const needed = new Promise<void>((resolve) => {
  wanted = resolve;
});

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

/** How long after a kit component asked for the package a tab alone loads it. */
const SETTLE_MS = 1000;

/** The page's next idle moment (at most a second away), or a short timer without the API. */
function idle(): Promise<void> {
  return new Promise((resolve) => {
    const ric = (
      globalThis as { requestIdleCallback?: (cb: () => void, o: { timeout: number }) => number }
    ).requestIdleCallback;
    if (typeof ric === 'function') ric(() => resolve(), { timeout: 1000 });
    else setTimeout(resolve, 50);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
}

async function run(options: BootOptions, start: Promise<TabStart>): Promise<BootResult> {
  const { tabGuard = true, immediate = false, loadAfterMs = 30000, ...rest } = options;
  const claim = await start;
  try {
    if (claim.alone && !immediate) {
      // The client is starting meanwhile: the wasm's bytes and compile stay off its path.
      // Asked for by the first kit component under the live client, they wait a moment more:
      // the app's first logged-in frames (its sidebar, its room list) come first.
      await Promise.race([needed.then(() => delay(SETTLE_MS)).then(idle), delay(loadAfterMs)]);
    }
    // Fetched and compiled from now on (one shared promise), while the app renders its
    // first frame: a gate waiting for the role waits for the longer of the two, not their sum.
    const loading = Promise.resolve()
      .then(() => loadCryptoHealth())
      .catch(() => null);
    if (!immediate && !claim.alone) await afterFirstFrame();
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
        role = await claim.settle(() =>
          api.acquireTabGuard!({ onStolen: reload, timeoutMs: 1500, ...given })
        );
      } catch {
        role = null; // bad options: no guard, the client runs
      }
      // This tab started its client as the only one, yet another tab holds the guard (one
      // that booted without the start lock): come back as the secondary.
      if (claim.alone && role === 'secondary') reload();
    }
    return { api, role, storage: started.storage ?? null, error: null };
  } finally {
    claim.done();
  }
}

/** Start crypto-health once for this page; later calls return the same promise. */
export function bootCryptoHealth(options: BootOptions = {}): Promise<BootResult> {
  if (booting === null) {
    starting = (
      options.tabGuard === false
        ? Promise.resolve<TabStart>({ alone: true, settle: (a) => a(), done: () => undefined })
        : claimTabStart()
    ).then((c) => {
      claimed = c;
      return c;
    });
    booting = run(options, starting).catch((e: unknown) => ({
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

/** The tab's start claim of an earlier bootCryptoHealth() call (TabGuardGate reads it). */
export function cryptoHealthStart(): Promise<TabStart> | null {
  return starting;
}

/** That claim once settled (read on a first render), else null. */
export function cryptoHealthClaimed(): TabStart | null {
  return claimed;
}

/** A component needs the package now: a boot that waits for that loads the wasm. */
export function needCryptoHealth(): void {
  wanted?.();
}
