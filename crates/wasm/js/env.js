// Raw browser facts for the Rust side. Every function here is total: it never
// throws and never rejects; a missing API comes back as a named absence.

const SESSION_KEYS = {
  accessToken: 'cinny_access_token',
  deviceId: 'cinny_device_id',
  userId: 'cinny_user_id',
  homeserver: 'cinny_hs_base_url',
};

function safe(fn, fallback) {
  try { return fn(); } catch (_) { return fallback; }
}

function localStore() {
  // Accessing window.localStorage itself throws in some sandboxed iframes.
  return safe(() => globalThis.localStorage || null, null);
}

// The Cinny session as localStorage holds it; the token itself never leaves here.
export function readSession() {
  const ls = localStore();
  if (!ls) return { available: false };
  const get = (k) => safe(() => ls.getItem(k), null);
  return {
    available: true,
    present: !!get(SESSION_KEYS.accessToken) && !!get(SESSION_KEYS.deviceId),
    userId: get(SESSION_KEYS.userId),
    deviceId: get(SESSION_KEYS.deviceId),
    homeserver: get(SESSION_KEYS.homeserver),
  };
}

export function lsGet(key) {
  const ls = localStore();
  return ls ? safe(() => ls.getItem(key), null) : null;
}

export function lsSet(key, value) {
  const ls = localStore();
  return ls ? safe(() => { ls.setItem(key, value); return true; }, false) : false;
}

// Resolves { status: 'ok', names } | { status: 'unsupported'|'error', reason }.
export async function listDatabases() {
  const idb = safe(() => globalThis.indexedDB, undefined);
  if (!idb) return { status: 'unsupported', reason: 'no IndexedDB in this context' };
  if (typeof idb.databases !== 'function') return { status: 'unsupported', reason: 'indexedDB.databases() is not available' };
  try {
    const dbs = await idb.databases();
    return { status: 'ok', names: dbs.map((d) => String(d.name)) };
  } catch (e) {
    return { status: 'error', reason: String(e && e.message ? e.message : e) };
  }
}

// Element Web's tryPersistStorage, done fully: check persisted() first, ask
// persist() only if needed, then re-read and estimate. Never rejects.
export async function persistStorage(ask) {
  const out = { status: 'unknown', persisted: null, requested: false, estimate: null, notes: [] };
  const storage = safe(() => globalThis.navigator && globalThis.navigator.storage, undefined);
  if (!storage || typeof storage.persisted !== 'function') {
    out.status = 'unsupported';
    out.notes.push(safe(() => globalThis.isSecureContext, true) === false
      ? 'navigator.storage is unavailable: not a secure context (serve over https or localhost)'
      : 'navigator.storage is unavailable in this browser');
    return out;
  }
  try {
    out.persisted = !!(await storage.persisted());
    if (!out.persisted && ask && typeof storage.persist === 'function') {
      out.requested = true;
      out.persisted = !!(await storage.persist());
    }
    out.status = out.persisted ? 'persisted' : 'not_persisted';
  } catch (e) {
    out.notes.push('persist check failed: ' + String(e && e.message ? e.message : e));
  }
  if (typeof storage.estimate === 'function') {
    try {
      const est = await storage.estimate();
      out.estimate = { usage: est.usage ?? null, quota: est.quota ?? null };
    } catch (e) {
      out.notes.push('estimate failed: ' + String(e && e.message ? e.message : e));
    }
  }
  return out;
}

// The awaits of requestPersistentStorage / checkCryptoStoreConsistency live
// here; `done` is a synchronous wasm callback (no futures executor in wasm).
// The returned promises never reject.
export function persistThen(ask, done) {
  return persistStorage(ask).then((p) => done(p)).catch(() => null);
}

export function consistencyThen(done) {
  return Promise.all([listDatabases(), persistStorage(false)]).then(([dbs, p]) => done(dbs, p)).catch(() => null);
}

// What a MatrixClient (read duck-typed) and the page can tell us.
export function clientFacts(mx) {
  const f = { userAgent: safe(() => String(globalThis.navigator.userAgent), null) };
  if (mx === null || mx === undefined || (typeof mx !== 'object' && typeof mx !== 'function')) return f;
  const call = (name, obj = mx) => safe(() => (typeof obj[name] === 'function' ? obj[name]() : undefined), undefined);
  const str = (v) => (v === undefined || v === null ? null : String(v));
  f.userId = str(call('getUserId'));
  f.deviceId = str(call('getDeviceId'));
  f.homeserver = str(call('getHomeserverUrl') ?? safe(() => mx.baseUrl, null));
  f.syncState = str(call('getSyncState'));
  const crypto = call('getCrypto');
  f.cryptoReady = crypto !== undefined && crypto !== null;
  if (f.cryptoReady) f.cryptoVersion = str(call('getVersion', crypto));
  return f;
}

export function downloadText(filename, text) {
  try {
    let pretty = text;
    try { pretty = JSON.stringify(JSON.parse(text), null, 2) + '\n'; } catch (_) { /* keep as built */ }
    const blob = new Blob([pretty], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    a.style.display = 'none';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    return true;
  } catch (_) {
    return false;
  }
}
