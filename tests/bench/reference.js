// The plain-JS capture crypto-health is measured against: the capture a client
// would write by hand (a console wrapper feeding a ring buffer), written straightforwardly.
// Pass-through console wrappers; each line is rendered, tested against one
// regex per signature, and matching lines go into an array ring buffer (200)
// as { ts, level, ke, signature, message }; objects as JSON, or (naive) as
// String(o). Same signatures as the core's table
// (crates/core/src/signature.rs), so both captures match the same lines.

const SIGNATURES = [
  { ke: 'KE-1', signature: 'ke1.otk_conflict', re: /One time key \S+ already exists/ },
  { ke: 'KE-1', signature: 'ke1.keys_upload_400', re: /<-- POST \S*\/keys\/upload.* 400\]/ },
  { ke: 'KE-2', signature: 'ke2.missing_key', re: /missing key at index \d+ for participant/ },
  { ke: 'KE-2', signature: 'ke2.key_set_not_found', re: /key set not found for / },
  { ke: 'KE-2', signature: 'ke2.call_key_delivered', re: /nexpected encrypted to-device event.*io\.element\.call\.encryption_keys/s },
  { ke: 'KE-3', signature: 'ke3.missing_algorithm', re: /rror decrypting event.*missing field [`'"]algorithm[`'"]/s },
  { ke: null, signature: 'decrypt.other', re: /rror decrypting event/ },
  { ke: 'KE-4', signature: 'ke4.local_timeout_retry', re: /Network local timeout error while sending event/ },
  { ke: 'KE-4', signature: 'ke4.max_retries', re: /Reached maximum \(\d+\) retries cause by/ },
  { ke: 'KE-4', signature: 'ke4.restart_timed_out', re: /Restart delayed event timed out/ },
  { ke: 'KE-4', signature: 'ke4.widget_update_failed', re: /error updating delayed event/ },
];

const LEVELS = ['debug', 'log', 'info', 'warn', 'error'];
const MAX = 200;

let installed = null;
export const buffer = [];

// `naive`: objects as String(o) ("[object Object]") instead of JSON, the
// cheapest capture one could write (the lower yardstick).
let naive = false;

function render(args) {
  const parts = [];
  for (const a of args) {
    if (typeof a === 'string') parts.push(a);
    else if (a instanceof Error) parts.push(`${a.name}: ${a.message}`);
    else if (a !== null && typeof a === 'object') {
      if (naive) { try { parts.push(String(a)); } catch { parts.push('[object]'); } continue; }
      try { parts.push(JSON.stringify(a)); } catch { parts.push(String(a)); }
    } else parts.push(String(a));
  }
  return parts.join(' ');
}

function record(level, args) {
  try {
    const message = render(args);
    for (const s of SIGNATURES) {
      if (s.re.test(message)) {
        buffer.push({ ts: Date.now(), level, ke: s.ke, signature: s.signature, message });
        if (buffer.length > MAX) buffer.shift();
        return;
      }
    }
  } catch {
    // never break the app's logging
  }
}

export function installReference({ objectsAsString = false } = {}) {
  if (installed) return false;
  naive = objectsAsString;
  installed = {};
  for (const level of LEVELS) {
    const original = console[level];
    installed[level] = original;
    console[level] = function (...args) {
      original.apply(this, args);
      record(level, args);
    };
  }
  return true;
}

export function uninstallReference() {
  if (!installed) return false;
  for (const level of LEVELS) console[level] = installed[level];
  installed = null;
  return true;
}
