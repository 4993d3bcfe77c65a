//! TypeScript declarations for the JS values we return, emitted into the
//! generated `crypto_health.d.ts` next to the functions that use them.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
export type KeClass = 'KE-1' | 'KE-2' | 'KE-3' | 'KE-4';

/** The stable `code` of an Error this package throws or rejects with (`message` says the details). */
export type CryptoHealthErrorCode = 'INVALID_ARGUMENT' | 'TAB_GUARD_NOT_ACQUIRED' | 'REENTRANT_CALL' | 'UNAVAILABLE' | 'INTERNAL';

/** What this package throws or rejects with: branch on `code`, not on the message. */
export interface CryptoHealthError extends Error {
  code: CryptoHealthErrorCode;
}

export interface InstallOptions {
  /** Entries kept in the ring buffer (default 200, clamped to 1..10000). */
  capacity?: number;
  /** Bytes kept of each message (default 4096); the cut is marked. */
  maxMessageBytes?: number;
  /** Also record window `error` and `unhandledrejection` events (default true). */
  windowEvents?: boolean;
  /** Report file name prefix (default `crypto-health-report`; e.g. `lotus-crypto-diag`). */
  reportPrefix?: string;
  /** Capture same-origin iframes' consoles and the widget API messages between host and frames (default true). Cross-origin frames are noted, never touched. */
  frames?: boolean;
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
  /** `host`, or `frame:` and the frame's id or address (no query). */
  source: string;
}

/** A call participant as the widget API traffic showed it (`@user:server:DEVICE`). */
export interface CallParticipant {
  id: string;
  joinedAt: number | null;
  left: boolean;
  keysSentTo: number;
  keysSendFailed: number;
  keysOffered: number;
  keysDelivered: number;
  lastKeyIndex: number | null;
  firstDeliveredAt: number | null;
  /** In the call for 10 s without one call key delivered. */
  missingKeys: boolean;
}

/** Keys between this device and one peer (a user, with its device or curve25519 key when known). */
export interface CallPeer {
  userId: string;
  deviceId: string | null;
  senderKey: string | null;
  /** Keys from the peer: a call key decrypted here, or encrypted for a key this device lost. */
  incoming: 'received' | 'undecryptable' | 'unknown';
  /** Keys to the peer: no Olm session can be built (the peer's identity was reset). */
  outgoing: 'unreachable' | 'unknown';
  olmForUs: number;
  olmNotForUs: number;
  encryptedFor: string[];
  msgids: string[];
  callKeysArrived: number;
  missingCiphertextLines: number;
  unreachableLines: number;
  identityRefusedLines: number;
}

/** The report's `call` section: host↔call-frame widget API evidence, and keys per peer. */
export interface CallEvidence {
  messages: number;
  unreadable: number;
  widgetIds: string[];
  own: string | null;
  participants: CallParticipant[];
  /** Absent in reports written before it existed. */
  peers?: CallPeer[];
  delayedEvents: Record<'schedule' | 'restart' | 'send' | 'cancel' | 'update' | string, { requests: number; answered: number; errors: number; overLocalTimeout: number; maxMs: number; totalMs: number; lastError: string | null }>;
  pending: number;
}

export interface StorageState {
  status: 'persisted' | 'not_persisted' | 'unsupported' | 'unknown';
  persisted: boolean | null;
  requested: boolean;
  estimate: { usage: number | null; quota: number | null } | null;
  cryptoStore: { present: boolean | null; name: string | null; databases: Record<string, boolean>; checkedAt: string | null; seenAt: string | null };
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

/** The page's E2EE health as the core decides it (`getCryptoDiagHealth()`, the report's `health`). */
export interface CryptoDiagHealth {
  status: 'critical' | 'warning' | 'ok';
  classes: KeClassHealth[];
}

export interface KeClassHealth {
  ke: KeClass;
  /** The class in a few words. */
  what: string;
  status: 'critical' | 'warning' | 'info' | 'none';
  count: number;
  failures: number;
  lastSeen: number | null;
}

export interface HttpTapOptions {
  /** Answer identical keys/upload retries locally during a storm (default false). */
  breakUploadStorm?: boolean;
  /** Conflicts on one key id that make a storm (default 3). */
  stormThreshold?: number;
  /** Window for those conflicts, ms (default 600000). */
  stormWindowMs?: number;
}

export interface OtkProof {
  algorithm: string;
  keyId: string;
  keyIdScheme: 'vodozemac' | 'libolm' | 'unknown';
  counter: number | null;
  oldKey: unknown;
  newKey: unknown;
  /** Values differ without signatures; null when the text was cut short. */
  diverged: boolean | null;
  source: 'http' | 'console';
  seenAt: number;
}

export interface OtkTrigger {
  kind: 'account_recreated' | 'concurrent_writer' | 'unknown';
  facts: string[];
}

export interface OtkRecommendation {
  id: 'relogin_new_device';
  title: string;
  steps: string[];
  blastRadius: string;
  backupWarning: string;
}

export interface OtkHealth {
  outcome: 'healthy' | 'retrying' | 'diverged' | 'unrecoverable' | 'flooding';
  phase: 'healthy' | 'failing' | 'storm' | 'recovered';
  phaseSince: number | null;
  userId: string | null;
  deviceId: string | null;
  previousDevice: { deviceId: string; phase: OtkHealth['phase'] } | null;
  uploads: { requests: number; accepted: number; conflicts: number; rejected: number; transient: number; duplicates: number };
  conflictsInWindow: number;
  proof: OtkProof | null;
  trigger: OtkTrigger | null;
  recommendation: OtkRecommendation | null;
  identity: { known: string | null; firstSeenAt: number | null; replacedBy: string | null; replacedAt: number | null; curve25519: string | null; replacedByCurve25519: string | null };
  maxAcceptedCounter: number | null;
  firstConflictAt: number | null;
  lastConflictAt: number | null;
  stormStartedAt: number | null;
  recoveredAt: number | null;
  storms: number;
  recoveryEvents: number;
  lastTransient: string | null;
  breaker: { enabled: boolean; armed: boolean; nextProbeAt: number | null; probeStep: number; probes: number; savedRequests: number; lastSavedAt: number | null };
  config: { stormThreshold: number; stormWindowMs: number };
  /** The one-time-key flood detector; null until a /sync count or an upload was seen. */
  flood: OtkFlood | null;
}

/** Uploads past the SDK's one-time-key target (crypto-wasm 18.5–18.6 with an older matrix-js-sdk). */
export interface OtkFlood {
  target: number;
  syncsWithCounts: number;
  lastSyncCount: number | null;
  uploadsWithKeys: number;
  excessUploads: number;
  excessKeys: number;
  firstServerCount: number | null;
  serverCount: number | null;
  maxServerCount: number | null;
  refusals: number;
  refusal: string | null;
  floodingSince: number | null;
}

export interface RecoveryNeeded {
  userId: string | null;
  deviceId: string | null;
  outcome: OtkHealth['outcome'];
  proof: OtkProof | null;
  trigger: OtkTrigger | null;
  recommendation: OtkRecommendation;
  stormStartedAt: number;
  conflictsInWindow: number;
  at: string;
}

export type TabGuardRole = 'primary' | 'secondary' | 'unsupported';

export interface TabGuardEvent {
  ts: number;
  role: TabGuardState['role'];
  cause: 'acquired' | 'takeover' | 'steal' | 'stolen' | 'lease-lost' | 'claim-lost' | 'primary-gone' | 'released';
  peer: string | null;
}

export interface TabGuardState {
  mechanism: 'web-locks' | 'local-storage' | 'none';
  role: 'idle' | 'primary' | 'secondary' | 'unsupported' | 'released';
  lockName: string | null;
  tabId: string | null;
  autoTakeover: boolean;
  takeovers: number;
  stolen: number;
  conflicts: number;
  /** Unix ms: the current role since. */
  since: number | null;
  acquiredTs: number | null;
  lastTakeoverTs: number | null;
  lastStolenTs: number | null;
  stolenBy: string | null;
  primaryGone: boolean;
  events: TabGuardEvent[];
  notes: string[];
}

/** `detail` of the window event 'crypto-health:tab-guard' and the callbacks' argument. */
export interface TabGuardChange extends TabGuardState {
  previousRole: string;
  cause: string;
}

export interface TabGuardOptions {
  /** Names the lock (`lockName`: origin, userId, deviceId); default: the session's user (Cinny's `cinny_user_id`, or the active entry of a fork's `matrixSessions`). Every tab of the origin also holds the origin's lock first, so one device has one primary whatever the order of login and tab opening. */
  userId?: string;
  /** Default: the session's device (Cinny's `cinny_device_id`, or the active `matrixSessions` entry's). */
  deviceId?: string;
  /** A waiting secondary becomes primary as soon as the primary goes away (default false). */
  autoTakeover?: boolean;
  /** Wait this long for a holder that is leaving (e.g. the page being reloaded) before settling for secondary (default 0). */
  timeoutMs?: number;
  onSecondary?: (change: TabGuardChange) => void;
  /** Another tab took over: stop the Matrix client in this one. */
  onStolen?: (change: TabGuardChange) => void;
  /** This secondary became primary (autoTakeover or takeOverTabGuard): start the client. */
  onPrimary?: (change: TabGuardChange) => void;
  /** The primary went away; without autoTakeover this tab waits for takeOverTabGuard(). */
  onPrimaryGone?: (change: TabGuardChange) => void;
}

export type UtdCause =
  | 'malformed_event' | 'missing_room_key' | 'unknown_message_index' | 'withheld_by_sender'
  | 'withheld_for_unverified_device' | 'sent_before_we_joined' | 'historical_no_key_backup'
  | 'historical_backup_unconfigured' | 'historical_working_backup' | 'verification_violation'
  | 'unsigned_device' | 'unknown_device' | 'unknown';

export interface UtdEvent {
  eventId: string;
  roomId: string | null;
  /** matrix-js-sdk's DecryptionFailureCode at the last attempt. */
  code: string | null;
  firstFailedAt: number;
  lastFailedAt: number;
  attempts: number;
}

export interface UtdCauseStats {
  /** Events that failed past the grace period and have not decrypted since. */
  count: number;
  /** data: the event itself is bad (KE-3); key: this device lacks the room key; trust: the sender is not trusted. */
  kind: 'data' | 'key' | 'trust' | 'unknown';
  ke: KeClass | null;
  codes: Record<string, number>;
  firstSeen: number | null;
  lastSeen: number | null;
  /** The longest-failing events still followed (at most 10). */
  events: UtdEvent[];
  /** `crypto_store_reset`: "sent before this device logged in", but this device lost its crypto store under the same id. */
  explainedBy: string | null;
}

/** The report's `decryption` section (watchDecryption). */
export interface DecryptionSection {
  watching: boolean;
  gracePeriodMs: number;
  failures: number;
  /** Failed less than the grace period ago: not counted yet. */
  pending: number;
  /** Decrypted after the grace period: counted here, not as failures. */
  lateDecryptions: number;
  maxLateMs: number | null;
  decryptedWithinGrace: number;
  decrypted: number;
  tracked: number;
  maxTracked: number;
  evicted: number;
  causes: Partial<Record<UtdCause, UtdCauseStats>>;
}
"#;
