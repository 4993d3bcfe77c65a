// React hooks over the crypto-health API. Everything here polls or listens; no
// call may throw into the app, so every read goes through `attempt`.
import { useCallback, useEffect, useRef, useState } from 'react';
import { loadCryptoHealth } from 'crypto-health';
import type {
  ClassCount,
  CryptoDiagHealth,
  DecryptionSection,
  DiagEntry,
  Finding,
  KeClass,
  StorageState,
} from 'crypto-health';
import {
  KitApi,
  MatrixClientLike,
  OtkHealth,
  RECOVERY_EVENT,
  RecoveryNeeded,
  TAB_GUARD_EVENT,
  TabGuardState,
  attempt,
  readFindings,
} from './api';
import {
  BootResult,
  cryptoHealthBooting,
  cryptoHealthClaimed,
  cryptoHealthStart,
  needCryptoHealth,
} from './start';
import type { TabStart } from './tabStart';

/** loadCryptoHealth(), as a promise even if the call itself throws. */
function safeLoad(): Promise<unknown> {
  try {
    return Promise.resolve(loadCryptoHealth());
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * The package, loaded through its shared init promise (the one the app entry started). A
 * boot that waits for a component to need the package loads it now, unless `need` is false
 * (the tab gate and its notice: they only read what the boot settles).
 */
export function useCryptoHealthApi(need = true): { api: KitApi | null; error: string | null } {
  const [state, setState] = useState<{ api: KitApi | null; error: string | null }>({
    api: null,
    error: null,
  });
  useEffect(() => {
    let live = true;
    if (need) needCryptoHealth();
    const boot = cryptoHealthBooting();
    const load: Promise<KitApi> = boot
      ? boot.then((b) => (b.api ? b.api : Promise.reject(new Error(b.error ?? 'not loaded'))))
      : (safeLoad() as Promise<KitApi>);
    load.then(
      (api) => {
        if (live) setState({ api, error: null });
      },
      (e: unknown) => {
        if (live) setState({ api: null, error: String(e) });
      }
    );
    return () => {
      live = false;
    };
  }, [need]);
  return state;
}

/**
 * The tab's start claim made by bootCryptoHealth(): `alone` lets the client start before the
 * wasm is loaded. Null until settled (a few ms after boot) and without a boot call.
 */
export function useTabStart(): TabStart | null {
  const [claim, setClaim] = useState<TabStart | null>(() => cryptoHealthClaimed());
  useEffect(() => {
    if (claim) return undefined;
    let live = true;
    cryptoHealthStart()?.then((c) => {
      if (live) setClaim(c);
    });
    return () => {
      live = false;
    };
  }, [claim]);
  return claim;
}

export type Counts = Partial<Record<KeClass | 'other', ClassCount>>;

export interface Snapshot {
  counts: Counts;
  /** The overall level and each KE class's, as the core decides them; null where the build lacks it. */
  health: CryptoDiagHealth | null;
  entries: DiagEntry[];
  findings: Finding[];
  otk: OtkHealth | null;
  guard: TabGuardState | null;
  /** Why messages fail to decrypt (watchDecryption); null where the build lacks it. */
  decryption: DecryptionSection | null;
  updatedAt: number;
}

const EMPTY: Snapshot = {
  counts: {},
  health: null,
  entries: [],
  findings: [],
  otk: null,
  guard: null,
  decryption: null,
  updatedAt: 0,
};

// A cheap fingerprint of the counts: entries and findings are re-read only when it moves.
function countsKey(counts: Counts): string {
  // Every class the core counts, whichever they are.
  const names = Object.keys(counts).sort() as (KeClass | 'other')[];
  return names
    .map((k) => {
      const c = counts[k];
      return c ? `${k}:${c.count}:${c.lastSeen};` : `${k}:-;`;
    })
    .join('');
}

/**
 * A live view of the diagnostics: per-KE counts every `pollMs`, entries and
 * findings whenever the counts move, OTK health and tab-guard state where the
 * build has them. `refresh()` forces a full re-read.
 */
export function useDiagnosticsSnapshot(
  api: KitApi | null,
  mx?: MatrixClientLike,
  pollMs = 1000
): { snapshot: Snapshot; refresh: () => void } {
  const [snapshot, setSnapshot] = useState<Snapshot>(EMPTY);
  const lastKey = useRef<string | null>(null);
  const mxRef = useRef(mx);
  mxRef.current = mx;

  const read = useCallback(
    (force: boolean) => {
      if (!api) return;
      const counts = attempt(() => api.getCryptoDiagCounts() as Counts, {} as Counts);
      const key = countsKey(counts);
      const otk =
        typeof api.otkHealth === 'function' ? attempt(() => api.otkHealth() ?? null, null) : null;
      const health =
        typeof api.getCryptoDiagHealth === 'function'
          ? attempt(() => (api.getCryptoDiagHealth() as CryptoDiagHealth) ?? null, null)
          : null;
      const guard =
        typeof api.getTabGuardState === 'function'
          ? attempt(() => api.getTabGuardState!(), null)
          : null;
      const decryption =
        typeof api.decryptionHealth === 'function'
          ? attempt(() => (api.decryptionHealth() as DecryptionSection) ?? null, null)
          : null;
      const moved = force || key !== lastKey.current;
      lastKey.current = key;
      setSnapshot((prev) => ({
        counts,
        health,
        entries: moved
          ? attempt(() => api.getCryptoDiagEntries(), [] as DiagEntry[])
          : prev.entries,
        findings: moved ? readFindings(api, mxRef.current) : prev.findings,
        otk,
        guard,
        decryption,
        updatedAt: Date.now(),
      }));
    },
    [api]
  );

  useEffect(() => {
    if (!api) return undefined;
    read(true);
    const timer = window.setInterval(() => read(false), pollMs);
    const onEvent = () => read(true);
    window.addEventListener(RECOVERY_EVENT, onEvent);
    window.addEventListener(TAB_GUARD_EVENT, onEvent);
    return () => {
      window.clearInterval(timer);
      window.removeEventListener(RECOVERY_EVENT, onEvent);
      window.removeEventListener(TAB_GUARD_EVENT, onEvent);
    };
  }, [api, pollMs, read]);

  const refresh = useCallback(() => read(true), [read]);
  return { snapshot, refresh };
}

/**
 * The latest `recovery-needed` event (one per KE-1 upload storm, from the HTTP tap
 * or the console, judged by the package's detector), or null. Subscribes with
 * `onRecoveryNeeded`, which also delivers a storm already under way; builds without
 * it are heard through the `crypto-health:recovery-needed` window event.
 * `dismiss()` hides it until the next storm.
 */
export function useRecoveryNeeded(api: KitApi | null): {
  event: RecoveryNeeded | null;
  dismiss: () => void;
} {
  const [event, setEvent] = useState<RecoveryNeeded | null>(null);

  useEffect(() => {
    if (!api) return undefined;
    const raise = (e: RecoveryNeeded) => setEvent(e && typeof e === 'object' ? e : null);
    if (typeof api.onRecoveryNeeded === 'function') {
      const off = attempt(() => api.onRecoveryNeeded(raise), null);
      return () => {
        if (typeof off === 'function') attempt(off, undefined);
      };
    }
    const onWindow = (e: Event) => raise((e as CustomEvent<RecoveryNeeded>).detail);
    window.addEventListener(RECOVERY_EVENT, onWindow);
    return () => window.removeEventListener(RECOVERY_EVENT, onWindow);
  }, [api]);

  const dismiss = useCallback(() => setEvent(null), []);
  return { event, dismiss };
}

/**
 * The tab-guard role, kept current from the `crypto-health:tab-guard` event and
 * a slow poll. `takeOver()` calls `takeOverTabGuard()`; null where the build has no guard.
 */
export function useTabGuard(
  api: KitApi | null,
  pollMs = 2000
): { state: TabGuardState | null; supported: boolean; takeOver: (() => Promise<string>) | null } {
  // Read synchronously on the first render: a gate must not render its children for
  // even one frame in a secondary tab.
  const [state, setState] = useState<TabGuardState | null>(() =>
    api && typeof api.getTabGuardState === 'function'
      ? attempt(() => api.getTabGuardState!(), null)
      : null
  );
  const supported = !!api && typeof api.getTabGuardState === 'function';

  useEffect(() => {
    if (!api || typeof api.getTabGuardState !== 'function') return undefined;
    const read = () => setState(attempt(() => api.getTabGuardState!(), null));
    read();
    const timer = window.setInterval(read, pollMs);
    window.addEventListener(TAB_GUARD_EVENT, read);
    return () => {
      window.clearInterval(timer);
      window.removeEventListener(TAB_GUARD_EVENT, read);
    };
  }, [api, pollMs]);

  const takeOver =
    api && typeof api.takeOverTabGuard === 'function'
      ? async () => {
          let role = 'unknown';
          try {
            role = await api.takeOverTabGuard!();
          } catch (e) {
            role = `failed: ${String(e)}`;
          }
          setState(attempt(() => (api.getTabGuardState ? api.getTabGuardState() : null), null));
          return role;
        }
      : null;
  return { state, supported, takeOver };
}

/**
 * The app's bootCryptoHealth() outcome: `done` once the package is loaded and the tab
 * role is known. Without a boot call, done as soon as the package is loaded (or failed).
 */
export function useBoot(): { done: boolean; result: BootResult | null } {
  const [state, setState] = useState<{ done: boolean; result: BootResult | null }>({
    done: false,
    result: null,
  });
  useEffect(() => {
    let live = true;
    const boot = cryptoHealthBooting();
    const settle = (result: BootResult | null) => {
      if (live) setState({ done: true, result });
    };
    if (boot) boot.then(settle, () => settle(null));
    else
      safeLoad().then(
        () => settle(null),
        () => settle(null)
      );
    return () => {
      live = false;
    };
  }, []);
  return state;
}

/**
 * The storage state, with the crypto-store check run again now: the check at app load
 * can predate the login (no session, no store yet), so a card shown under a live client
 * asks afresh. `recheck()` repeats it; the state carries the check's time.
 */
export function useStorageState(
  api: KitApi | null,
  given: StorageState | null | undefined,
  mx: MatrixClientLike
): { storage: StorageState | null; recheck: () => void } {
  const [storage, setStorage] = useState<StorageState | null>(given ?? null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (!api) return undefined;
    let live = true;
    const ask = async () => {
      try {
        if (typeof api.checkCryptoStoreConsistency === 'function')
          await api.checkCryptoStoreConsistency();
        // persisted() first, persist() only if needed; never rejects.
        const st = await api.requestPersistentStorage();
        if (live) setStorage(st);
      } catch {
        if (live && given) setStorage(given);
      }
    };
    ask();
    return () => {
      live = false;
    };
  }, [api, given, mx, round]);
  const recheck = useCallback(() => setRound((r) => r + 1), []);
  return { storage, recheck };
}

/**
 * Watch the live client's decryption results (watchDecryption) while mounted: the card's
 * "Why messages fail to decrypt" row and the report's `decryption` section. Mount it where the
 * client lives for the whole session (RecoveryPromptHost does, given `mx`); watching the same
 * client again is a no-op in the package, and unmounting stops the watch.
 */
export function useWatchDecryption(api: KitApi | null, mx: MatrixClientLike): void {
  useEffect(() => {
    if (!api || !mx || typeof api.watchDecryption !== 'function') return undefined;
    const stop = attempt(() => api.watchDecryption(mx) as unknown, null);
    return () => {
      if (typeof stop === 'function') attempt(() => (stop as () => void)(), undefined);
    };
  }, [api, mx]);
}
