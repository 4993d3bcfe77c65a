// Fetch tap. Plain JS on purpose, like the console tap: it sits on every
// request the app makes. Rules:
//  - A request we do not watch goes straight to the original fetch, with the
//    caller's `this` and arguments, after one regex test.
//  - A watched request gets the original fetch's own promise back: same
//    Response object, timing and errors. We read bodies from clones, after the
//    fact; a failing tap never fails the fetch (errors are counted).
//  - Only when the app opted into the storm breaker may an upload be answered
//    locally, and only when the wasm side says so (identical body during a storm).
//  - Hooks into wasm are called synchronously but never re-entered from our
//    own callbacks; recovery listeners run on a microtask, outside wasm.

// One test for every watched endpoint (Synapse keys/upload, MSC4140 delayed_events, sendToDevice,
// /sync), one for keys/upload and one for /sync: built by the core from its endpoint table (evidence/http.rs `url_tests`)
// and handed over at install; the core decides exactly.
let WATCH = null;
let UPLOAD = null;
// v3 /sync (GET) and simplified sliding sync (MSC4186, POST .../simplified_msc3575/sync).
let SYNC = null;
const MAX_BODY = 256 * 1024; // response bytes we are willing to read from a clone
// A /sync answer above this is skipped (counted): the counts come again with the next one.
const MAX_SYNC = 512 * 1024;
const MAX_TO_DEVICE = 64; // to-device events summarised per /sync (the rest only counted)

let tap = null;
const listeners = new Set();
let lastRecovery = null; // the current storm's event, for late subscribers

function errorText(e) {
  try {
    if (e && typeof e === 'object') return String(e.name) + ': ' + String(e.message);
    return String(e);
  } catch (_) {
    return 'Error';
  }
}

function urlOf(input) {
  if (typeof input === 'string') return input;
  if (input && typeof input === 'object' && typeof input.url === 'string') return input.url; // Request
  return String(input); // URL objects and anything with a toString
}

function methodOf(input, init) {
  const m = (init && init.method) || (input && typeof input === 'object' && typeof input.method === 'string' && input.method) || 'GET';
  return String(m).toUpperCase();
}

/**
 * The clone's body as text, or null when it is longer than MAX_BODY bytes. Reads
 * at most MAX_BODY + one chunk, then cancels the clone; the app still gets all of
 * its body. (What Chromium's tee of a network body buffers for the app's branch
 * meanwhile is not ours to bound here: see `observe`.)
 */
function readCapped(clone, max) {
  const body = clone.body;
  if (body === null) return Promise.resolve('');
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let bytes = 0;
  let text = '';
  const stop = () => { try { reader.cancel().catch(() => {}); } catch (_) { /* already released */ } };
  function pump() {
    return reader.read().then(({ done, value }) => {
      if (done) return text + decoder.decode();
      bytes += value.byteLength;
      if (bytes > max) { stop(); return null; }
      text += decoder.decode(value, { stream: true });
      return pump();
    }, (e) => { stop(); throw e; });
  }
  return pump();
}

// A value of a parsed JSON object (JSON.parse builds plain data: no getters run).
const obj = (v) => (v !== null && typeof v === 'object' ? v : {});
// One field of the summary: a string, cut, without whitespace (the separators).
const word = (v) => (typeof v === 'string' ? v.slice(0, 256).replace(/\s/g, '') : '');

/**
 * What the core needs from a /sync answer, as a few lines of text
 * (SyncFacts::from_summary in crates/core/src/evidence/sync.rs): the one-time-key
 * counts, and per to-device event its type,
 * sender, algorithm, sender key, message id and the curve25519 keys its
 * ciphertext is for. Parsed with the browser's JSON.parse from our clone (the
 * app parses its own body). null: not a JSON object.
 */
export function syncSummary(text) {
  let j;
  try { j = JSON.parse(text); } catch (_) { return null; }
  if (j === null || typeof j !== 'object') return null;
  const ext = obj(j.extensions); // sliding sync keeps both under extensions
  const e2ee = ext.e2ee ? obj(ext.e2ee) : j;
  const counts = e2ee.device_one_time_keys_count;
  const events = obj(ext.to_device || j.to_device).events;
  const list = Array.isArray(events) ? events : [];
  let out = '';
  if (counts !== null && typeof counts === 'object') {
    out += 'otk';
    for (const k of Object.keys(counts).slice(0, 16)) if (Number.isSafeInteger(counts[k]) && counts[k] >= 0) out += ' ' + word(k) + '=' + counts[k];
    out += '\n';
  }
  out += 'total ' + list.length + '\n';
  for (const ev of list.slice(0, MAX_TO_DEVICE)) {
    const e = obj(ev);
    const c = obj(e.content);
    const ct = c.ciphertext;
    const keys = ct !== null && typeof ct === 'object' && !Array.isArray(ct) ? Object.keys(ct).slice(0, 8).map(word).join(' ') : '';
    out += 'ev ' + [e.type, e.sender, c.algorithm, c.sender_key, c['org.matrix.msgid']].map(word).join('\t') + '\t' + keys + '\n';
  }
  return out;
}

/**
 * Install the tap. `beforeUpload(body) -> null | { status, statusText, contentType, body }`
 * (null: send it; an object: answer with it), `afterExchange(info, body)`; `watchSource`,
 * `uploadSource`, `syncSource`: the core's URL tests (regular-expression sources).
 * Returns false when already installed or when there is no fetch to wrap.
 */
export function httpInstall(beforeUpload, afterExchange, breakUploadStorm, watchSource, uploadSource, syncSource) {
  if (tap !== null) {
    tap.breaker = !!breakUploadStorm;
    return false;
  }
  const g = globalThis;
  if (typeof g.fetch !== 'function') return false;
  try {
    WATCH = new RegExp(watchSource);
    UPLOAD = new RegExp(uploadSource);
    SYNC = new RegExp(syncSource);
  } catch (_) {
    return false;
  }
  const original = g.fetch;
  const t = { original, breaker: !!breakUploadStorm, active: true, watched: 0, local: 0, errors: 0, wrapper: null, overran: false };

  function after(info, body) {
    try { afterExchange(info, body); } catch (_) { t.errors++; }
  }

  // `kind`: 'upload' (the answer is read: Synapse's 400, or the counts of a
  // 2xx), 'sync' (a 2xx is read and summarised), or null (nothing is read).
  function observe(p, method, url, started, kind) {
    p.then(
      (resp) => {
        try {
          const info = {
            method, url, status: resp.status, statusText: resp.statusText,
            contentType: resp.headers.get('content-type'), aborted: false,
            durationMs: performance.now() - started, error: null, local: false, bodyError: false, bodyNotRead: false,
          };
          // A clone turns the app's own body into a teed stream, which costs its
          // read ~1 ms in Chromium (tests/bench): only keys/upload answers (rare,
          // small) and successful /sync answers (one per long poll) are read.
          const sync = kind === 'sync';
          if (kind === null || (sync && !resp.ok)) { after(info, null); return; }
          const max = sync ? MAX_SYNC : MAX_BODY;
          const cl = resp.headers.get('content-length');
          const known = cl !== null && cl !== '';
          // A body said to be over the cap is not read. One of unknown length is
          // (Synapse streams its JSON answers chunked), unless such a body already
          // overran the cap: Chromium's tee of a network body reads the source as
          // fast as the network gives it and buffers it for the app's branch until
          // the app reads, whatever the clone reads, so after one overrun the tap
          // stops cloning bodies of unknown length (a real Synapse error is ~500 B).
          // (A /sync body is read by the app as it arrives, so it is always tried.)
          if (known ? !(Number(cl) <= max) : t.overran && !sync) { info.bodyNotRead = true; after(info, null); return; }
          // Clone synchronously, before the app can consume the body.
          readCapped(resp.clone(), max).then(
            (text) => {
              if (text === null) {
                info.bodyNotRead = true;
                if (!known && !sync) t.overran = true;
              }
              after(info, sync && text !== null ? syncSummary(text) : text);
            },
            () => { info.bodyError = true; after(info, null); },
          );
        } catch (_) {
          t.errors++;
        }
      },
      (err) => {
        let aborted = false;
        try { aborted = !!err && err.name === 'AbortError'; } catch (_) { /* odd rejection value */ }
        after({
          method, url, status: 0, statusText: '', contentType: null, aborted,
          durationMs: performance.now() - started, error: errorText(err), local: false, bodyError: false,
        }, null);
      },
    );
  }

  function localAnswer(kept, method, url) {
    t.local++;
    const headers = kept.contentType ? { 'content-type': kept.contentType } : {};
    const resp = new Response(kept.body, { status: kept.status, statusText: kept.statusText, headers });
    after({
      method, url, status: kept.status, statusText: kept.statusText, contentType: kept.contentType,
      aborted: false, durationMs: 0, error: null, local: true, bodyError: false,
    }, null);
    return Promise.resolve(resp);
  }

  function before(body) {
    try { return beforeUpload(body) || null; } catch (_) { t.errors++; return null; }
  }

  t.wrapper = function fetch(input, init) {
    let url;
    try {
      if (!t.active) return original.apply(this, arguments);
      url = urlOf(input);
      if (!WATCH.test(url)) return original.apply(this, arguments);
    } catch (_) {
      return original.apply(this, arguments);
    }
    let method = 'GET';
    let upload = false;
    let kind = null;
    let body;
    let requestClone = null;
    const started = performance.now();
    try {
      method = methodOf(input, init);
      upload = method === 'POST' && UPLOAD.test(url);
      kind = upload ? 'upload' : SYNC.test(url) ? 'sync' : null;
      t.watched++;
      if (upload) {
        body = init && 'body' in init ? init.body : undefined;
        if (body === undefined && typeof Request === 'function' && input instanceof Request) requestClone = input.clone();
      }
    } catch (_) {
      t.errors++;
      upload = false;
      kind = null;
    }
    if (upload && typeof body === 'string') {
      // The SDK's case: a JSON string. Decide synchronously.
      const kept = before(body);
      if (kept) return localAnswer(kept, method, url);
    } else if (upload && requestClone !== null) {
      // Body inside a Request: readable only asynchronously, from a clone.
      const self = this;
      const args = arguments;
      const text = requestClone.text();
      if (!t.breaker) {
        text.then(before, () => { t.errors++; });
      } else {
        return text.then(before, () => null).then((kept) => {
          if (kept) return localAnswer(kept, method, url);
          const p = original.apply(self, args);
          observe(p, method, url, started, 'upload');
          return p;
        });
      }
    }
    const p = original.apply(this, arguments);
    try { observe(p, method, url, started, kind); } catch (_) { t.errors++; }
    return p;
  };

  g.fetch = t.wrapper;
  tap = t;
  return true;
}

/** Restore the original fetch (when nobody wrapped it after us) and stop observing. */
export function httpUninstall() {
  const t = tap;
  if (t === null) return false;
  t.active = false;
  if (globalThis.fetch === t.wrapper) globalThis.fetch = t.original;
  tap = null;
  return true;
}

export function httpStats() {
  const t = tap;
  return t === null ? null : { watched: t.watched, answeredLocally: t.local, errors: t.errors };
}

/** Called from wasm with the event detail; listeners run later, outside wasm. */
export function emitRecovery(detail) {
  lastRecovery = detail;
  queueMicrotask(() => {
    for (const cb of Array.from(listeners)) {
      try { cb(detail); } catch (e) { setTimeout(() => { throw e; }); } // the app's error, reported as its own
    }
    try {
      if (typeof globalThis.dispatchEvent === 'function' && typeof CustomEvent === 'function') {
        globalThis.dispatchEvent(new CustomEvent('crypto-health:recovery-needed', { detail }));
      }
    } catch (_) { /* no event target (worker without dispatchEvent) */ }
  });
}

/** The storm is over: late subscribers get nothing. */
export function clearRecovery() {
  lastRecovery = null;
}

/** Subscribe; a storm already under way is delivered at once. Returns unsubscribe. */
export function addRecoveryListener(cb) {
  listeners.add(cb);
  const pending = lastRecovery;
  if (pending !== null) {
    queueMicrotask(() => {
      if (listeners.has(cb)) {
        try { cb(pending); } catch (e) { setTimeout(() => { throw e; }); }
      }
    });
  }
  return () => { listeners.delete(cb); };
}

/** After an internal error: pass every request straight through, observe nothing. */
export function httpStop() {
  if (tap !== null) tap.active = false;
}
