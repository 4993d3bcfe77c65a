//! TypeScript declarations for the JS values we return, emitted into the
//! generated `crypto_health.d.ts` next to the functions that use them.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
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

export interface ClassCount {
  count: number;
  failures: number;
  firstSeen: number | null;
  lastSeen: number | null;
  bySignature: Record<string, number>;
}

export interface Classification {
  ke: KeClass | null;
  signature: string;
  severity: 'failure' | 'info';
  fields: Record<string, unknown>;
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

"#;
