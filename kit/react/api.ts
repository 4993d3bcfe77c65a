// The crypto-health API as the kit sees it: what the package exports today, plus
// the functions that are landing (OTK health, recovery, tab guard), declared
// optional so every use is feature-detected and the kit works with either build.
import type { CryptoHealthApi, DiagEntry, Finding } from 'crypto-health';

export type OtkOutcome = 'healthy' | 'retrying' | 'diverged' | 'unrecoverable';

export interface OtkProof {
  algorithm: string;
  keyId: string;
  counter: number | null;
  oldKey: unknown;
  newKey: unknown;
  diverged: boolean | null;
}

export interface OtkRecommendation {
  id: string;
  title: string;
  steps: string[];
  blastRadius: string;
  backupWarning: string;
}

export interface OtkHealth {
  outcome: OtkOutcome;
  phase: 'healthy' | 'failing' | 'storm' | 'recovered';
  userId: string | null;
  deviceId: string | null;
  conflicts: number;
  uploads: { ok: number; failed: number; savedByBreaker: number };
  proof?: OtkProof | null;
  trigger?: { kind: 'account_recreated' | 'concurrent_writer' | 'unknown'; facts: string[] } | null;
  recommendation?: OtkRecommendation | null;
  identity?: { current: unknown; previous: unknown; changedAt: unknown } | null;
  since?: unknown;
  lastConflictAt?: unknown;
}

/** What `onRecoveryNeeded` / the `crypto-health:recovery-needed` event carry. */
export type RecoveryNeeded = Partial<OtkHealth> & {
  /** Set by the kit when it raised the prompt itself from console evidence. */
  source?: 'http' | 'console' | string;
};

export type TabGuardRole = 'primary' | 'secondary' | 'unsupported' | string;

export interface TabGuardState {
  mechanism: 'web-locks' | 'local-storage' | 'none' | string;
  role: TabGuardRole | null;
  lockName?: string;
  takeovers?: number;
  conflicts?: number;
  since?: unknown;
}

export interface AcquireTabGuardOptions {
  userId?: string;
  deviceId?: string;
  onSecondary?: () => void;
  onStolen?: () => void;
  timeoutMs?: number;
  autoTakeover?: boolean;
}

/** Functions that not every build of the package has yet. */
export interface OptionalApi {
  installHttpTap?: (options?: { breakUploadStorm?: boolean; stormThreshold?: number; stormWindowMs?: number }) => boolean;
  otkHealth?: () => OtkHealth;
  onRecoveryNeeded?: (callback: (event: RecoveryNeeded) => void) => () => void;
  acquireTabGuard?: (options?: AcquireTabGuardOptions) => Promise<TabGuardRole>;
  takeOverTabGuard?: () => Promise<TabGuardRole>;
  getTabGuardState?: () => TabGuardState;
  releaseTabGuard?: () => void;
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
  } catch (_) {
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
