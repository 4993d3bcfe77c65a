// Types for the crypto-health package entry (index.js). The wasm-bindgen
// functions are re-exported from crypto_health.js with their generated types.

export * from './crypto_health.js';
import type * as CryptoHealth from './crypto_health.js';

export type CryptoHealthApi = typeof CryptoHealth;

export type { CryptoHealthError, CryptoHealthErrorCode } from './crypto_health.js';
export type { CryptoDiagHealth, KeClassHealth } from './crypto_health.js';
export type { KeClass, InstallOptions, DiagEntry, ClassCount, StorageState, Finding, Classification, HttpTapOptions, OtkHealth, OtkFlood, OtkProof, OtkTrigger, OtkRecommendation, RecoveryNeeded } from './crypto_health.js';
import type { InstallOptions, StorageState, Finding, HttpTapOptions } from './crypto_health.js';
export type { UtdCause, UtdEvent, UtdCauseStats, DecryptionSection } from './crypto_health.js';
export type { TabGuardRole, TabGuardOptions, TabGuardState, TabGuardChange, TabGuardEvent } from './crypto_health.js';
import type { TabGuardRole, TabGuardOptions } from './crypto_health.js';

export function loadCryptoHealth(moduleOrPath?: string | URL | Request | Response | BufferSource | WebAssembly.Module): Promise<CryptoHealthApi>;

export function startCryptoHealth(options?: InstallOptions & HttpTapOptions & {
  moduleOrPath?: string | URL;
  httpTap?: boolean;
  /** Acquire the multi-tab guard too: `true` (default options) or its options. Default off. */
  tabGuard?: boolean | TabGuardOptions;
  /** A MatrixClient: watch its decryption results (watchDecryption) for the report's `decryption` section. */
  mx?: unknown;
}): Promise<{
  api: CryptoHealthApi;
  installed: boolean;
  httpTap: boolean;
  storage: StorageState;
  finding: Finding | null;
  /** The guard's role when `tabGuard` was asked for, else null. */
  tabGuard: TabGuardRole | null;
  /** Stops the decryption watcher; null when no `mx` was given or it is not a client. */
  unwatchDecryption: (() => void) | null;
}>;
