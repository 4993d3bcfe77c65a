// Types for the crypto-health package entry (index.js). The wasm-bindgen
// functions are re-exported from crypto_health.js with their generated types.

export * from './crypto_health.js';
import type * as CryptoHealth from './crypto_health.js';

export type CryptoHealthApi = typeof CryptoHealth;

export type KeClass = 'KE-1' | 'KE-2' | 'KE-3' | 'KE-4';

export interface InstallOptions {
  /** Entries kept in the ring buffer (default 200, clamped to 1..10000). */
  capacity?: number;
  /** Bytes kept of each message (default 4096); the cut is marked. */
  maxMessageBytes?: number;
  /** Also record window `error` and `unhandledrejection` events (default true). */
  windowEvents?: boolean;
  /** Report file name prefix (default `lotus-crypto-diag`). */
  reportPrefix?: string;
}

export interface DiagEntry {
  ts: number;
  level: 'debug' | 'log' | 'info' | 'warn' | 'error' | 'uncaught' | 'unhandledrejection' | 'http';
  ke: KeClass | null;
  signature: string;
  severity: 'failure' | 'info';
  message: string;
  fields: Record<string, unknown>;
  repeats: number;
  lastTs: number;
  truncated: boolean;
}

export interface StorageState {
  status: 'persisted' | 'not_persisted' | 'unsupported' | 'unknown';
  persisted: boolean | null;
  requested: boolean;
  estimate: { usage: number | null; quota: number | null } | null;
  cryptoStore: { present: boolean | null; databases: Record<string, boolean>; checkedAt: string | null; seenAt: string | null };
  notes: string[];
}

export interface Finding {
  id: string;
  ke: KeClass | null;
  level: 'critical' | 'warning' | 'info';
  title: string;
  detail: string;
  ts: number;
  at: string;
  evidence: unknown;
}

export function loadCryptoHealth(moduleOrPath?: string | URL | Request | Response | BufferSource | WebAssembly.Module): Promise<CryptoHealthApi>;

export function startCryptoHealth(options?: InstallOptions & { moduleOrPath?: string | URL }): Promise<{
  api: CryptoHealthApi;
  installed: boolean;
  storage: StorageState;
  finding: Finding | null;
}>;
