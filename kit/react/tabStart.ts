// The tab guard's first answer without the wasm: a tab that is alone on the origin starts its
// Matrix client at once, and the package's wasm loads once the app needs it, off the path to
// the first logged-in view.
//
// Every tab booted by bootCryptoHealth() settles its role under one Web Lock, the start lock.
// A tab that gets it at once and finds no tab-guard lock held or asked for (the wasm's guard
// holds `crypto-health:tab-guard:<origin>||` in every primary tab) is alone: it starts now
// and keeps the start lock until the wasm's guard holds its own locks. Any other tab waits for
// the start lock and acquires the guard under it. Two tabs starting together therefore never
// both start a client: the second finds the first's start lock taken. Without Web Locks every
// tab waits for the wasm's guard (its localStorage lease), as before.

/** The start lock (Web Locks are per origin: no origin in the name). */
const START_LOCK = 'crypto-health:tab-start';
/** What the wasm's guard names its locks with (crates/core/src/environment/tab_guard/names.rs `PREFIX`). */
export const GUARD_LOCK_PREFIX = 'crypto-health:tab-guard:';

interface LockInfo {
  name?: unknown;
}
interface LockManagerLike {
  request(
    name: string,
    options: { ifAvailable?: boolean },
    cb: (lock: unknown) => unknown
  ): Promise<unknown>;
  request(name: string, cb: (lock: unknown) => unknown): Promise<unknown>;
  query(): Promise<{ held?: LockInfo[]; pending?: LockInfo[] }>;
}

export interface TabStart {
  /** No other tab holds or waits for the tab guard: this tab's client may start now. */
  alone: boolean;
  /** Acquire the guard (`acquire`) where no other tab settles its role meanwhile. */
  settle<T>(acquire: () => Promise<T>): Promise<T>;
  /** Let go of the start lock, if still held (after settle, or when the boot gave up). */
  done(): void;
}

function lockManager(): LockManagerLike | null {
  try {
    const locks = (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks;
    return locks && typeof locks.request === 'function' && typeof locks.query === 'function'
      ? locks
      : null;
  } catch {
    return null;
  }
}

function run<T>(acquire: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(acquire());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Not alone: the guard is acquired as usual (under the start lock where there are Web Locks). */
function waitTurn(locks: LockManagerLike | null): TabStart {
  return {
    alone: false,
    settle: <T>(acquire: () => Promise<T>) =>
      locks ? (locks.request(START_LOCK, () => run(acquire)) as Promise<T>) : run(acquire),
    done: () => undefined,
  };
}

/** Claim this tab's start: resolves within a few ms, never rejects. */
export function claimTabStart(): Promise<TabStart> {
  const locks = lockManager();
  if (!locks) return Promise.resolve(waitTurn(null));
  return new Promise<TabStart>((resolve) => {
    let letGo: (() => void) | null = null;
    const kept = new Promise<void>((r) => {
      letGo = r;
    });
    const release = () => letGo?.();
    const alone: TabStart = {
      alone: true,
      settle: <T>(acquire: () => Promise<T>) => {
        const p = run(acquire);
        p.then(release, release);
        return p;
      },
      done: release,
    };
    try {
      locks
        .request(START_LOCK, { ifAvailable: true }, async (lock) => {
          if (!lock) {
            resolve(waitTurn(locks)); // another tab is settling its role
            return undefined;
          }
          let free = false;
          try {
            const q = await locks.query();
            free = ![...(q.held ?? []), ...(q.pending ?? [])].some(
              (l) => typeof l.name === 'string' && l.name.startsWith(GUARD_LOCK_PREFIX)
            );
          } catch {
            free = false;
          }
          if (!free) {
            resolve(waitTurn(locks)); // a guard is there: the start lock goes back at once
            return undefined;
          }
          resolve(alone);
          return kept; // held until this tab's guard holds its own locks
        })
        .catch(() => resolve(waitTurn(null)));
    } catch {
      resolve(waitTurn(null));
    }
  });
}
