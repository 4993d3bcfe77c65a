// The crypto-health API as the kit sees it: what the package exports, plus the
// functions still landing (a findings getter), declared optional. Every use is
// feature-detected at run time, so the kit works with any build.
import type {
  CryptoHealthApi,
  DiagEntry,
  Finding,
  OtkHealth,
  RecoveryNeeded,
  TabGuardOptions,
  TabGuardState,
} from 'crypto-health';

export type { OtkHealth, RecoveryNeeded, TabGuardState };

/** Acquired roles; the state also reports 'idle' (never acquired) and 'released'. */
export type TabGuardRole = 'primary' | 'secondary' | 'unsupported' | 'idle' | 'released' | string;

/** The package's acquireTabGuard() options. */
export type AcquireTabGuardOptions = TabGuardOptions;

/** Functions that not every build of the package has yet. */
export interface OptionalApi {
  getCryptoDiagFindings?: () => Finding[];
}

export type KitApi = CryptoHealthApi & OptionalApi;

/** A MatrixClient, read duck-typed: the kit needs no matrix-js-sdk types. */
export type MatrixClientLike = unknown;

export const RECOVERY_EVENT = 'crypto-health:recovery-needed';
export const TAB_GUARD_EVENT = 'crypto-health:tab-guard';

/** Call `fn`; on any throw return `fallback` (the kit never throws into the app). */
export function attempt<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

export function has<K extends keyof OptionalApi>(api: KitApi | null | undefined, name: K): boolean {
  return !!api && typeof (api as OptionalApi)[name] === 'function';
}

/**
 * The findings recorded so far. Uses `getCryptoDiagFindings()` where the build
 * has it; otherwise reads them out of a freshly built report.
 */
export function readFindings(api: KitApi, mx?: MatrixClientLike): Finding[] {
  if (typeof api.getCryptoDiagFindings === 'function') {
    return attempt(() => api.getCryptoDiagFindings!() ?? [], [] as Finding[]);
  }
  return attempt(() => {
    const report = JSON.parse(api.buildCryptoDiagReport(mx, undefined)) as { findings?: Finding[] };
    return Array.isArray(report.findings) ? report.findings : [];
  }, [] as Finding[]);
}

/** The newest KE-1 one-time-key conflict the console tap captured, if any. */
export function latestOtkConflict(entries: DiagEntry[]): DiagEntry | null {
  for (let i = entries.length - 1; i >= 0; i -= 1) {
    if (entries[i].signature === 'ke1.otk_conflict') return entries[i];
  }
  return null;
}

export function field(entry: DiagEntry | null, name: string): unknown {
  return entry && entry.fields ? (entry.fields as Record<string, unknown>)[name] : undefined;
}
