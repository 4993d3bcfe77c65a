// Recorded real failure texts (upstream: element-hq/synapse synapse/handlers/e2e_keys.py, matrix-org/matrix-js-sdk src/models/event.ts and src/matrixrtc/MembershipManager.ts, livekit/client-sdk-js src/e2ee/worker/FrameCryptor.ts, crates/core/tests/signatures.rs) for
// the demo's replay buttons. Each is logged through `console` exactly as the SDK,
// crypto-wasm or LiveKit logs it, so the real capture path handles it.

export type Level = 'debug' | 'log' | 'info' | 'warn' | 'error';

export interface Sample {
  label: string;
  level: Level;
  line: string;
}

// Synapse's 400 body for a re-uploaded one-time key (element-hq/synapse synapse/handlers/e2e_keys.py): old key as
// canonical JSON, new key as Python repr. Counter 13 (`AAAAAAAAAA0`): a first batch
// from a re-created account under the same device id.
export const KE1_SYNAPSE_ERROR =
  'One time key signed_curve25519:AAAAAAAAAA0 already exists. ' +
  'Old key: {"key":"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4","signatures":{"@alice:localhost":{"ed25519:ABCDEFGHIJ":"c2lnMQ"}}}; ' +
  "new key: {'key': 'bq0KZ2mXj7QvUqk1cfF8eWm5cJmWl3gNn7sHh1Rk9Gk', 'signatures': {'@alice:localhost': {'ed25519:ABCDEFGHIJ': 'c2lnMg'}}}";

// How matrix-js-sdk's OutgoingRequestsManager logs it (matrix-org/matrix-js-sdk src/rust-crypto/OutgoingRequestsManager.ts).
export const KE1_LINE = `Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] ${KE1_SYNAPSE_ERROR} (http://localhost:8008/_matrix/client/v3/keys/upload)`;

export const SAMPLES: Sample[] = [
  { label: 'KE-1 keys/upload 400 (SDK)', level: 'error', line: KE1_LINE },
  { label: 'KE-1 FetchHttpApi 400', level: 'debug', line: 'FetchHttpApi: <-- POST http://localhost:8008/_matrix/client/v3/keys/upload [65ms 400]' },
  { label: 'KE-2 MissingKey', level: 'warn', line: 'MissingKey: missing key at index 3 for participant @bob:localhost:BOBDEVICE' },
  { label: 'KE-2 key set not found', level: 'warn', line: 'MissingKey: key set not found for @bob:localhost:BOBDEVICE at index 1' },
  {
    label: 'KE-2 call key delivered (info)',
    level: 'warn',
    line: 'WARN matrix_sdk_crypto::machine: Received an unexpected encrypted to-device event sender="@bob:localhost" event_type="io.element.call.encryption_keys"',
  },
  {
    label: 'KE-3 missing algorithm',
    level: 'warn',
    line: 'Error decrypting event (id=$SASBBzoqjAbCdEf type=m.room.encrypted sender=@bob:localhost room=!room:localhost): DecryptionError[msg: missing field `algorithm` at line 1 column 138]',
  },
  {
    label: 'KE-4 delayed event timeout',
    level: 'warn',
    line: '[MembershipManager] Network local timeout error while sending event, immediate retry ((3/10)) AbortError: Restart delayed event timed out before the HS responded',
  },
  {
    label: 'KE-4 max retries',
    level: 'error',
    line: '[MembershipManager] Reached maximum (10) retries cause by: AbortError: Restart delayed event timed out before the HS responded',
  },
  {
    label: 'ordinary decryption failure (not KE-3)',
    level: 'warn',
    line: "Error decrypting event (id=$ev2 type=m.room.encrypted sender=@b:hs): DecryptionError[msg: The sender's device has not sent us the keys for this message., session_id: abc]",
  },
  { label: 'not a KE (alias exists)', level: 'warn', line: 'Room alias #general:localhost already exists' },
];

/** Times the KE-1 line is replayed to make a storm (the HTTP tap's default threshold is 3). */
export const STORM_REPEATS = 3;
