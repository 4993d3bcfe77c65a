// Console lines for the benchmark, in the shapes matrix-js-sdk, its rust crypto
// (tracing output forwarded to the console) and LiveKit really log. Each entry
// is the argument list of one console call: the SDK logger passes a prefix and
// the message as separate arguments, sometimes an object or an Error.

const HS = 'https://matrix.example.org';
const SINCE = 's72594_4483_1934_1_2188_1_88_0_1_1';

// The common case: nothing crypto-health looks for.
export const NON_MATCHING = [
  ['FetchHttpApi: --> GET ' + HS + '/_matrix/client/v3/sync?filter=3&timeout=30000&since=' + SINCE],
  ['FetchHttpApi: <-- GET ' + HS + '/_matrix/client/v3/sync?filter=3&timeout=30000&since=' + SINCE + ' [30113ms 200]'],
  ['[Perf]: Make outgoing request 2 took 31ms'],
  ['FetchHttpApi: --> POST ' + HS + '/_matrix/client/v3/keys/query'],
  ['FetchHttpApi: <-- POST ' + HS + '/_matrix/client/v3/keys/query [88ms 200]'],
  ['2026-06-30T12:00:01.512000Z DEBUG matrix_sdk_crypto::machine: Received a to-device event sender="@bob:example.org" event_type="m.room.encrypted" | crates/matrix-sdk-crypto/src/machine/mod.rs:1415'],
  ['2026-06-30T12:00:01.514000Z  INFO matrix_sdk_crypto::session_manager::sessions: Establishing missing Olm sessions with 0 devices | crates/matrix-sdk-crypto/src/session_manager/sessions.rs:341'],
  ['[MatrixRTCSession !aBcDeF:example.org]', 'Memberships for call in room !aBcDeF:example.org have changed: emitting (2 members)'],
  ['Adding default global override for .m.rule.is_room_mention'],
  ['Sync:', 'processing sync response, since', SINCE],
  ['MatrixClient: received', 12, 'to-device messages'],
  ['Got state event', { type: 'm.room.member', state_key: '@carol:example.org', content: { membership: 'join', displayname: 'Carol' } }],
  ['RoomWidgetClient:', 'Sending to-device message type org.matrix.msc3401.call.member'],
  ['livekit:', 'publishing track', { kind: 'audio', source: 'microphone', muted: false }],
  ['[PeerConnection] ICE connection state changed to connected'],
  ['Backup: ', 'key backup is enabled, version 12'],
];

// Only strings (and a number): what most SDK lines are.
export const STRING_ONLY = NON_MATCHING.filter((args) => args.every((a) => typeof a !== 'object'));

// 13 non-matching calls, 3 carrying an object as the SDK logs them: a state
// event, an Error from a failed request, LiveKit's track info.
class MatrixError extends Error {
  constructor(errcode, message, httpStatus) {
    super(`MatrixError: [${httpStatus}] ${message}`);
    this.name = 'MatrixError';
    this.errcode = errcode;
    this.httpStatus = httpStatus;
    this.data = { errcode, error: message };
  }
}
export const OBJECT_MIX = [
  ...STRING_ONLY.slice(0, 10),
  ['Got state event', { type: 'm.room.member', state_key: '@carol:example.org', content: { membership: 'join', displayname: 'Carol' } }],
  ['Error sending read receipt:', new MatrixError('M_LIMIT_EXCEEDED', 'Too Many Requests', 429)],
  ['livekit:', 'publishing track', { kind: 'audio', source: 'microphone', muted: false, trackSid: 'TR_AMkSd7oNh3Qj' }],
];

// Arguments built to make a console capture slow or run the app's code; fresh
// objects each call of this function (`name`, argument).
export function hostileArgs() {
  const getter = {};
  Object.defineProperty(getter, 'error', { get() { for (let i = 0; i < 1e7; i++); return 'x'; }, enumerable: true });
  const big = {};
  for (let i = 0; i < 1e6; i++) big['k' + i] = i;
  let deep = {};
  for (let i = 0; i < 1e5; i++) deep = { data: deep, error: 'level ' + i };
  const wide = Array.from({ length: 1e5 }, (_, i) => ({ error: 'e' + i }));
  // padEnd builds ropes: reading any part of one costs time linear in all of it.
  const huge = 'One time key '.padEnd(1 << 24, 'x');
  const atBound = 'One time key '.padEnd(128 * 1024, 'x'); // the longest string the tap reads
  const ropes = Array.from({ length: 8 }, (_, i) => ('One time key ' + i).padEnd(1 << 22, 'x'));
  const exps = Array.from({ length: 4 }, () => '1e99999999').join(',');
  return [
    ['Uint8Array(1e7)', new Uint8Array(1e7)],
    ['ArrayBuffer(1e7)', new ArrayBuffer(1e7)],
    ['1e6-key object', big],
    ['slow getter', getter],
    ['toJSON', { toJSON() { for (let i = 0; i < 1e7; i++); return {}; } }],
    ['Proxy', new Proxy({}, { get() { for (let i = 0; i < 1e7; i++); } })],
    ['1e5-deep object', deep],
    ['1e5 errors in an array', wide],
    ['16 MiB string passing the prefilter', huge],
    ['128 Ki-char string passing the prefilter (the read bound)', atBound],
    ['8 strings of 4 Mi chars in an array', ropes],
    ['Array(1e7)', new Array(1e7)],
    ['KE-1 line, 8 huge exponents in its keys', `One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":[${exps}]}; new key: {'key': [${exps}]}`],
  ];
}

// Lines the table matches (one per class plus the HTTP debug line).
export const MATCHING = [
  ['Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. ' +
    'Old key: {"key":"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4","signatures":{"@alice:example.org":{"ed25519:DEVICEID":"c2lnMQ"}}}; ' +
    "new key: {'key': 'bbbbKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4', 'signatures': {'@alice:example.org': {'ed25519:DEVICEID': 'c2lnMg'}}} " +
    '(' + HS + '/_matrix/client/v3/keys/upload)'],
  ['FetchHttpApi: <-- POST ' + HS + '/_matrix/client/v3/keys/upload [65ms 400]'],
  ['MissingKey: missing key at index 3 for participant @bob:example.org:BOBDEVICE'],
  ['Error decrypting event (id=$ev1 type=m.room.encrypted sender=@bob:example.org room=!aBcDeF:example.org ts=2026-06-30T12:00:01.512Z): ' +
    'DecryptionError[msg: missing field `algorithm` at line 1 column 138, sender_key: none, session_id: none]'],
  ['Network local timeout error while sending event, immediate retry ((3/10))'],
];

// A KE-1 line for the storm (the SDK repeats the identical failure).
export const STORM = MATCHING[0];

// keys/upload as the rust crypto sends it: device keys + 50 one-time keys.
export function uploadBody() {
  const otks = {};
  for (let i = 0; i < 50; i++) {
    const id = btoa(String.fromCharCode(0, 0, 0, 0, 0, 0, 0, i)).replace(/=+$/, '');
    otks['signed_curve25519:' + id] = {
      key: btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, j) => (i * 31 + j * 7) % 256))).replace(/=+$/, ''),
      signatures: { '@alice:example.org': { 'ed25519:DEVICEID': 'c2ln'.repeat(21) } },
    };
  }
  return JSON.stringify({
    device_keys: {
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      device_id: 'DEVICEID',
      keys: { 'curve25519:DEVICEID': 'Q3VydmVLZXlDdXJ2ZUtleUN1cnZlS2V5Q3VydmVLZXk', 'ed25519:DEVICEID': 'RWRLZXlFZEtleUVkS2V5RWRLZXlFZEtleUVkS2V5RWQ' },
      signatures: { '@alice:example.org': { 'ed25519:DEVICEID': 'c2ln'.repeat(21) } },
      user_id: '@alice:example.org',
    },
    one_time_keys: otks,
  });
}

// Synapse's answer to a re-uploaded one-time key (element-hq/synapse synapse/handlers/e2e_keys.py).
export const CONFLICT_BODY = JSON.stringify({
  errcode: 'M_UNKNOWN',
  error: 'One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4","signatures":{"@alice:example.org":{"ed25519:DEVICEID":"c2lnMQ"}}}; ' +
    "new key: {'key': 'bbbbKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4', 'signatures': {'@alice:example.org': {'ed25519:DEVICEID': 'c2lnMg'}}}",
});
