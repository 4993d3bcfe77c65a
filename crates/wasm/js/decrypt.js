// Decryption watcher: listens to the SDK's `Event.decrypted` (matrix-js-sdk
// src/models/event.ts `MatrixEventEvent.Decrypted`, re-emitted by the client)
// and hands the facts of each result to the wasm side, which decides. Plain JS
// on purpose: the listener runs inside the SDK's decryption loop, so every
// read is guarded and nothing it does can throw back into the SDK. It reads
// only what the SDK offers for this: getId(), getRoomId(),
// decryptionFailureReason, the wire content's own `algorithm`, and the error's
// own `message`. A watched client is watched once.

const EVENT = 'Event.decrypted';
const MAX_TEXT = 1024; // chars of an error message handed over
const gopd = Object.getOwnPropertyDescriptor;

const watched = new Map(); // client -> unsubscribe
let sink = null;
let errors = 0;

function own(o, key) {
  if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return undefined;
  const d = gopd(o, key);
  return d !== undefined && 'value' in d ? d.value : undefined;
}

function str(v) {
  return typeof v === 'string' ? v.slice(0, MAX_TEXT) : undefined;
}

function call(o, name) {
  const f = o[name];
  return typeof f === 'function' ? f.call(o) : undefined;
}

function onDecrypted(event, err) {
  try {
    if (sink === null || event === null || typeof event !== 'object') return;
    const id = str(call(event, 'getId'));
    if (id === undefined) return;
    const failed = call(event, 'isDecryptionFailure') === true;
    if (!failed) { sink({ kind: 'decrypted' }, id); return; }
    const content = call(event, 'getWireContent');
    const alg = own(content, 'algorithm');
    sink({
      kind: 'failed',
      roomId: str(call(event, 'getRoomId')),
      code: str(event.decryptionFailureReason),
      message: str(own(err, 'message')),
      hasAlgorithm: content === undefined ? undefined : typeof alg === 'string',
    }, id);
  } catch (_) {
    errors++;
  }
}

function offFrom(mx) {
  try {
    if (typeof mx.off === 'function') mx.off(EVENT, onDecrypted);
    else if (typeof mx.removeListener === 'function') mx.removeListener(EVENT, onDecrypted);
  } catch (_) { errors++; }
}

/** Watch `mx`; returns the unsubscribe function, or null when `mx` cannot be listened to. */
export function decryptWatch(mx, hook) {
  if (mx === null || (typeof mx !== 'object' && typeof mx !== 'function') || typeof mx.on !== 'function') return null;
  sink = hook;
  const known = watched.get(mx);
  if (known) return known;
  try { mx.on(EVENT, onDecrypted); } catch (_) { errors++; return null; }
  const unsubscribe = () => {
    if (watched.get(mx) !== unsubscribe) return;
    watched.delete(mx);
    offFrom(mx);
    if (watched.size === 0) {
      try { if (sink) sink({ kind: 'stopped' }, null); } catch (_) { errors++; }
    }
  };
  watched.set(mx, unsubscribe);
  return unsubscribe;
}

/** After an internal error: stop listening everywhere, hand nothing over. */
export function decryptStop() {
  sink = null;
  for (const mx of watched.keys()) offFrom(mx);
  watched.clear();
}

export function decryptErrors() {
  return errors;
}
