// Multi-tab guard: at most one tab per origin + user + device drives the
// crypto store (two OlmMachines on one IndexedDB store fork the account: KE-1).
//
// Mechanisms, best first:
// - Web Locks: `navigator.locks.request(name, { ifAvailable })`, held for the
//   tab's life. The browser frees it the moment the holder closes, crashes or
//   navigates, and hands it to the next queued tab: takeover without timers.
//   `steal: true` takes it from a live holder, whose request then rejects.
// - localStorage lease (insecure contexts, old browsers): the primary rewrites
//   a lease every HEARTBEAT_MS. Expiry is judged only by *local monotonic* time
//   (performance.now) since the lease last changed, never by comparing wall
//   clocks, so clock jumps change nothing. A lease that looks stale is not
//   taken at once: the watcher pings the holder over BroadcastChannel first.
//   Message events are not subject to background-timer throttling, so a live
//   but throttled holder (Chrome runs hidden tabs' timers once a minute after
//   5 minutes) answers and keeps its lease; only a dead one is replaced.
// - neither: role `unsupported`.
//
// Every export is total: nothing here throws into the app, and the only
// rejections are the caller's bugs (bad options to guardAcquire, guardTakeOver
// without a guard), as real Errors.

const EVENT = 'crypto-health:tab-guard';
const PREFIX = 'crypto-health:tab-guard:';
const MAX_EVENTS = 32;
const MAX_NOTES = 16;

// Lease timing (localStorage fallback only). A crashed holder is replaced
// after SUSPECT_MS without a lease change plus PING_TIMEOUT_MS without an
// answer, checked every CHECK_MS, then SETTLE_MS to confirm the claim: about
// 1.5–2.5 s after the crash. A clean close clears the lease at once (takeover
// in about SETTLE_MS). SUSPECT_MS only has to exceed a foreground beat: the
// ping, not the expiry, protects a live holder whose timers are throttled.
// PING_TIMEOUT_MS bounds how long the holder's main thread may be blocked
// before it is presumed dead (it then steps down on its next task, and the
// report counts a conflict). Without BroadcastChannel there is no ping, so the
// expiry alone must cover throttled timers: NO_CHANNEL_EXPIRY_MS.
export const LEASE = {
  HEARTBEAT_MS: 1000,
  CHECK_MS: 250,
  SUSPECT_MS: 1500,
  PING_TIMEOUT_MS: 500,
  SETTLE_MS: 150,
  NO_CHANNEL_EXPIRY_MS: 10000,
};

let g = null; // the live guard of this page, or null

function safe(fn, fallback) {
  try { return fn(); } catch (_) { return fallback; }
}
function mono() {
  return safe(() => globalThis.performance.now(), null) ?? Date.now();
}
function randomId() {
  return safe(() => globalThis.crypto.randomUUID(), null)
    || (Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10));
}
function locksApi() {
  const l = safe(() => globalThis.navigator && globalThis.navigator.locks, null);
  return l && typeof l.request === 'function' ? l : null;
}
// localStorage that can actually be written (Safari private mode, sandboxed frames, quota).
function storageApi() {
  const ls = safe(() => globalThis.localStorage || null, null);
  if (!ls) return null;
  return safe(() => { const k = PREFIX + 'probe'; ls.setItem(k, '1'); ls.removeItem(k); return ls; }, null);
}
function channel(name) {
  return safe(() => (typeof globalThis.BroadcastChannel === 'function' ? new globalThis.BroadcastChannel(name) : null), null);
}
function listen(target, type, fn) {
  safe(() => target && target.addEventListener(type, fn), null);
}
function unlisten(target, type, fn) {
  safe(() => target && target.removeEventListener(type, fn), null);
}

function note(text) {
  if (g && g.state.notes.length < MAX_NOTES && !g.state.notes.includes(text)) g.state.notes.push(text);
}

function snapshot() {
  if (!g) {
    return {
      mechanism: 'none', role: 'idle', lockName: null, tabId: null, autoTakeover: false,
      takeovers: 0, stolen: 0, conflicts: 0, since: null, acquiredTs: null, lastTakeoverTs: null,
      lastStolenTs: null, stolenBy: null, primaryGone: false, events: [], notes: [],
    };
  }
  const s = g.state;
  return { ...s, events: s.events.map((e) => ({ ...e })), notes: s.notes.slice() };
}

function post(msg) {
  if (!g || !g.channel) return;
  safe(() => g.channel.postMessage({ v: 1, from: g.state.tabId, ts: Date.now(), ...msg }), null);
}

function call(fn, arg) {
  if (typeof fn !== 'function') return;
  try { fn(arg); } catch (e) { note('a tab-guard callback threw: ' + safe(() => String(e && e.message ? e.message : e), 'error')); }
}

// One role change: state, event log, window event, callbacks.
function become(role, cause, peer) {
  const s = g.state;
  const prev = s.role;
  const now = Date.now();
  s.role = role;
  s.since = now;
  if (role === 'primary') s.primaryGone = false;
  if (role === 'primary' && (cause === 'takeover' || cause === 'steal')) {
    s.takeovers += 1;
    s.lastTakeoverTs = now;
  }
  if (cause === 'stolen' || cause === 'lease-lost') {
    s.stolen += 1;
    s.lastStolenTs = now;
    s.stolenBy = peer ?? null;
  }
  s.events.push({ ts: now, role, cause, peer: peer ?? null });
  if (s.events.length > MAX_EVENTS) s.events.splice(0, s.events.length - MAX_EVENTS);
  const detail = snapshot();
  detail.previousRole = prev;
  detail.cause = cause;
  safe(() => globalThis.dispatchEvent(new CustomEvent(EVENT, { detail })), null);
  if (role === 'primary' && prev === 'secondary') call(g.opts.onPrimary, detail);
  if (role === 'secondary' && (cause === 'stolen' || cause === 'lease-lost')) call(g.opts.onStolen, detail);
  else if (role === 'secondary' && prev !== 'secondary') call(g.opts.onSecondary, detail);
  if (role === 'primary') post({ type: 'primary', cause });
}

// The primary went away and this tab does not take over by itself: say so once.
function vacant() {
  if (!g || g.state.role !== 'secondary' || g.state.primaryGone) return;
  g.state.primaryGone = true;
  g.state.events.push({ ts: Date.now(), role: 'secondary', cause: 'primary-gone', peer: null });
  if (g.state.events.length > MAX_EVENTS) g.state.events.shift();
  const detail = snapshot();
  detail.previousRole = 'secondary';
  detail.cause = 'primary-gone';
  safe(() => globalThis.dispatchEvent(new CustomEvent(EVENT, { detail })), null);
  call(g.opts.onPrimaryGone, detail);
}

// ------------------------------------------------------------------ Web Locks

// Request the lock; resolves true once it is held (and keeps holding it until
// release or steal), false when it was not granted.
function hold(extra, cause) {
  const me = g;
  return new Promise((resolve) => {
    const rec = { granted: false, released: false, unlock: null };
    let p;
    try {
      p = me.locks.request(me.state.lockName, extra, (lock) => {
        if (!lock || g !== me || me.released) { resolve(false); return undefined; }
        rec.granted = true;
        me.lock = rec;
        become('primary', cause);
        return new Promise((r) => { rec.unlock = r; resolve(true); });
      });
    } catch (e) {
      note('navigator.locks.request threw: ' + safe(() => String(e && e.message ? e.message : e), 'error'));
      resolve(false);
      return;
    }
    Promise.resolve(p).then(() => { resolve(false); ended(me, rec); }, () => { resolve(false); ended(me, rec); });
  });
}

// A held lock ended without our release: another tab stole it.
function ended(me, rec) {
  if (!rec.granted || rec.released) return;
  if (me.lock === rec) me.lock = null;
  if (g !== me || me.released) return;
  const by = me.stealBy && mono() - me.stealByMono < 5000 ? me.stealBy : null;
  become('secondary', 'stolen', by);
  waitForLock();
}

// Queue behind the holder. With autoTakeover the grant makes us primary;
// without, we only learn the primary is gone and let the lock go.
function waitForLock() {
  const me = g;
  if (!me || me.released || me.waiting || me.state.role !== 'secondary') return;
  const ac = safe(() => new AbortController(), null);
  me.waiting = ac || true;
  const extra = ac ? { signal: ac.signal } : {};
  if (me.opts.autoTakeover) {
    hold(extra, 'takeover').then(() => { if (me.waiting === (ac || true)) me.waiting = null; });
    return;
  }
  let p;
  try {
    p = me.locks.request(me.state.lockName, extra, (lock) => {
      if (me.waiting === (ac || true)) me.waiting = null;
      if (lock && g === me && !me.released) vacant();
      return undefined; // let it go at once
    });
  } catch (_) {
    me.waiting = null;
    return;
  }
  Promise.resolve(p).then(null, () => { if (me.waiting === (ac || true)) me.waiting = null; });
}

function stopWaiting(me) {
  if (me.waiting && me.waiting !== true) safe(() => me.waiting.abort(), null);
  me.waiting = null;
}

async function acquireLocks(me) {
  const t = me.opts.timeoutMs;
  let granted;
  if (t > 0 && typeof AbortController === 'function' && typeof AbortSignal.timeout === 'function') {
    // Wait a little for a holder that is going away (a reload's old document).
    granted = await hold({ signal: AbortSignal.timeout(t) }, 'acquired');
  } else {
    granted = await hold({ ifAvailable: true }, 'acquired');
  }
  if (g !== me || me.released) return snapshot().role;
  if (!granted) {
    become('secondary', 'acquired');
    waitForLock();
  }
  return me.state.role;
}

async function stealLocks(me) {
  stopWaiting(me);
  post({ type: 'steal' });
  const ok = await hold({ steal: true }, 'steal');
  return ok ? 'primary' : me.state.role;
}

// ------------------------------------------------------- localStorage lease

function readLease(me) {
  const raw = safe(() => me.ls.getItem(me.state.lockName), null);
  if (!raw) return { raw: null, lease: null };
  const lease = safe(() => JSON.parse(raw), null);
  return { raw, lease: lease && typeof lease === 'object' && typeof lease.owner === 'string' ? lease : null };
}

function writeLease(me) {
  me.beat += 1;
  const raw = JSON.stringify({ owner: me.state.tabId, beat: me.beat, ts: Date.now() });
  const ok = safe(() => { me.ls.setItem(me.state.lockName, raw); return true; }, false);
  if (!ok) note('localStorage write failed (quota or storage disabled): the lease cannot be renewed');
  me.seenRaw = raw;
  me.seenMono = mono();
  return ok;
}

// Primary's beat: renew, unless another tab's lease replaced ours.
function beat(me) {
  if (g !== me || me.released || me.unloading || me.state.role !== 'primary') return;
  const { lease } = readLease(me);
  if (lease && lease.owner !== me.state.tabId) {
    loseLease(me, lease.owner);
    return;
  }
  writeLease(me);
}

function loseLease(me, owner) {
  stopBeating(me);
  const stolen = me.stealBy === owner;
  if (!stolen) me.state.conflicts += 1;
  become('secondary', stolen ? 'stolen' : 'lease-lost', owner);
  watch(me);
}

function startBeating(me) {
  stopBeating(me);
  me.beatTimer = safe(() => setInterval(() => beat(me), LEASE.HEARTBEAT_MS), null);
}
function stopBeating(me) {
  if (me.beatTimer !== null) safe(() => clearInterval(me.beatTimer), null);
  me.beatTimer = null;
}

// Secondary's watch: notice a vacant or dead lease, then claim it (autoTakeover)
// or report that the primary is gone.
function watch(me) {
  if (me.watchTimer !== null) return;
  me.watchTimer = safe(() => setInterval(() => check(me), LEASE.CHECK_MS), null);
}
function stopWatching(me) {
  if (me.watchTimer !== null) safe(() => clearInterval(me.watchTimer), null);
  me.watchTimer = null;
  me.pingSent = null;
}

function observe(me) {
  const r = readLease(me);
  if (r.raw !== me.seenRaw) {
    me.seenRaw = r.raw;
    me.seenMono = mono();
    me.pingSent = null;
  }
  return r;
}

function check(me) {
  if (g !== me || me.released || me.state.role !== 'secondary' || me.claiming) return;
  const { lease } = observe(me);
  const now = mono();
  let dead = !lease;
  if (!dead) {
    const quiet = now - me.seenMono;
    if (me.channel) {
      if (me.pingSent === null && quiet > LEASE.SUSPECT_MS) {
        me.pingSent = now;
        post({ type: 'ping', to: lease.owner });
      }
      dead = me.pingSent !== null && now - me.pingSent > LEASE.PING_TIMEOUT_MS;
    } else {
      dead = quiet > LEASE.NO_CHANNEL_EXPIRY_MS;
    }
  }
  if (!dead) return;
  if (me.opts.autoTakeover) claim(me, 'takeover');
  else vacant();
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Write our lease, let competing writes settle, read back: the last writer wins.
async function claim(me, cause) {
  if (me.claiming) return me.state.role;
  me.claiming = true;
  try {
    if (cause !== 'steal' && mono() - me.foreignClaimMono < LEASE.SETTLE_MS * 2) return me.state.role;
    me.claimsSeen = 0;
    if (cause === 'steal') post({ type: 'steal' });
    writeLease(me);
    post({ type: 'claim' });
    // A thief waits until the old primary has stepped down (it checks at 2 x SETTLE_MS).
    await sleep(cause === 'steal' ? LEASE.SETTLE_MS * 3 : LEASE.SETTLE_MS);
    if (me.claimsSeen > 0) await sleep(LEASE.SETTLE_MS); // a race: give the writes time to converge
    if (g !== me || me.released) return snapshot().role;
    const { lease } = observe(me);
    if (lease && lease.owner === me.state.tabId) {
      stopWatching(me);
      me.pingSent = null;
      startBeating(me);
      become('primary', cause);
      writeLease(me);
    } else if (me.state.role !== 'secondary') {
      become('secondary', cause === 'acquired' ? 'acquired' : 'claim-lost', lease ? lease.owner : null);
      watch(me);
    }
    return me.state.role;
  } finally {
    me.claiming = false;
  }
}

async function acquireLease(me) {
  const { lease } = observe(me);
  if (lease && lease.owner !== me.state.tabId) {
    // Someone holds a lease: alive, or left behind by a crash? Ask.
    let alive = !me.channel;
    if (me.channel) {
      me.pingSent = mono();
      post({ type: 'ping', to: lease.owner });
      const until = mono() + Math.max(LEASE.PING_TIMEOUT_MS, me.opts.timeoutMs);
      while (mono() < until && g === me && !me.released) {
        await sleep(50);
        observe(me);
        if (me.pingSent === null) { alive = true; break; }
      }
      me.pingSent = null;
    }
    if (g !== me || me.released) return snapshot().role;
    if (alive) {
      become('secondary', 'acquired', lease.owner);
      watch(me);
      return 'secondary';
    }
  }
  const role = await claim(me, 'acquired');
  if (g === me && !me.released && me.state.role === 'idle') {
    become('secondary', 'acquired');
    watch(me);
  }
  return g === me ? me.state.role : snapshot().role;
}

// ---------------------------------------------------------------- messages

function onMessage(me, ev) {
  if (g !== me || me.released) return;
  const m = safe(() => ev.data, null);
  if (!m || typeof m !== 'object' || m.v !== 1 || m.from === me.state.tabId) return;
  switch (m.type) {
    case 'steal': {
      me.stealBy = String(m.from);
      me.stealByMono = mono();
      const last = me.state.events[me.state.events.length - 1];
      if (me.state.role === 'secondary' && last && last.cause === 'stolen' && last.peer === null) {
        // The lock was taken before this notice arrived: name the thief now.
        last.peer = me.stealBy;
        me.state.stolenBy = me.stealBy;
      }
      if (me.mechanism === 'local-storage' && me.state.role === 'primary') {
        // The thief writes its lease next: stop renewing (a beat now would
        // overwrite it), then see who holds the lease once writes settle.
        stopBeating(me);
        safe(() => setTimeout(() => {
          if (g !== me || me.released || me.state.role !== 'primary') return;
          const { lease } = readLease(me);
          if (lease && lease.owner !== me.state.tabId) loseLease(me, lease.owner);
          else { startBeating(me); beat(me); }
        }, LEASE.SETTLE_MS * 2), null);
      }
      break;
    }
    case 'primary':
      if (me.state.role === 'primary' && m.cause !== 'steal') {
        // Two primaries at once: split-brain evidence (lease race or a tab frozen past its lease).
        if (me.mechanism === 'local-storage') {
          const { lease } = readLease(me);
          if (lease && lease.owner !== me.state.tabId) { loseLease(me, lease.owner); break; }
        }
        me.state.conflicts += 1;
      } else if (me.state.role === 'secondary' && me.mechanism === 'web-locks' && me.state.primaryGone) {
        me.state.primaryGone = false;
        waitForLock();
      } else if (me.state.role === 'secondary') {
        me.state.primaryGone = false;
      }
      break;
    case 'claim':
      me.foreignClaimMono = mono();
      me.claimsSeen += 1;
      break;
    case 'ping':
      if (me.mechanism === 'local-storage' && me.state.role === 'primary' && m.to === me.state.tabId) {
        beat(me); // throttled timers: renew on the ping's (unthrottled) message task
        if (me.state.role === 'primary' && !me.unloading) post({ type: 'pong' });
      }
      break;
    case 'pong':
      me.pingSent = null;
      me.seenMono = mono();
      break;
    case 'released':
      if (me.mechanism === 'local-storage' && me.state.role === 'secondary') check(me);
      break;
    default:
      break;
  }
}

// ------------------------------------------------------------------ exports

function lockNameFor(opts) {
  let user = opts.userId;
  let device = opts.deviceId;
  if (user == null || device == null) {
    const ls = safe(() => globalThis.localStorage || null, null);
    if (user == null) user = ls ? safe(() => ls.getItem('cinny_user_id'), null) : null;
    if (device == null) device = ls ? safe(() => ls.getItem('cinny_device_id'), null) : null;
  }
  const origin = safe(() => String(globalThis.location.origin), 'unknown-origin');
  return PREFIX + origin + '|' + (user ?? '') + '|' + (device ?? '');
}

function teardown(me) {
  me.released = true;
  stopWaiting(me);
  stopBeating(me);
  stopWatching(me);
  if (me.lock) {
    me.lock.released = true;
    safe(() => me.lock.unlock && me.lock.unlock(), null);
    me.lock = null;
  }
  if (me.mechanism === 'local-storage') {
    const { lease } = readLease(me);
    if (lease && lease.owner === me.state.tabId) safe(() => me.ls.removeItem(me.state.lockName), null);
  }
  unlisten(globalThis, 'pagehide', me.onPageHide);
  unlisten(globalThis, 'pageshow', me.onPageShow);
  unlisten(globalThis, 'storage', me.onStorage);
  unlisten(globalThis.document, 'visibilitychange', me.onWake);
  unlisten(globalThis.document, 'resume', me.onWake);
}

const CALLBACKS = ['onPrimary', 'onSecondary', 'onStolen', 'onPrimaryGone'];

/** What is wrong with acquire's options, or null (absent fields take defaults). */
function badOptions(o) {
  if (o === undefined || o === null) return null;
  if (typeof o !== 'object') return 'options must be an object';
  const get = (k) => safe(() => o[k], undefined); // a throwing getter counts as absent
  const absent = (v) => v === undefined || v === null;
  for (const k of ['userId', 'deviceId']) if (!absent(get(k)) && typeof get(k) !== 'string') return k + ' must be a string';
  for (const k of CALLBACKS) if (!absent(get(k)) && typeof get(k) !== 'function') return k + ' must be a function';
  const t = get('timeoutMs');
  if (!absent(t) && !(typeof t === 'number' && Number.isFinite(t) && t >= 0)) return 'timeoutMs must be a number >= 0';
  if (!absent(get('autoTakeover')) && typeof get('autoTakeover') !== 'boolean') return 'autoTakeover must be a boolean';
  return null;
}

/**
 * Acquire the guard. Resolves 'primary' | 'secondary' | 'unsupported'; rejects
 * only on bad options. opts: { userId, deviceId, onPrimary, onSecondary,
 * onStolen, onPrimaryGone, timeoutMs, autoTakeover }. A second call returns the current role.
 */
export function guardAcquire(opts) {
  const bad = badOptions(opts);
  if (bad) return Promise.reject(new Error('acquireTabGuard: ' + bad));
  try {
    if (g && !g.released) return g.pending || Promise.resolve(g.state.role);
    const o = opts && typeof opts === 'object' ? opts : {};
    const locks = locksApi();
    const ls = locks ? null : storageApi();
    const me = {
      opts: { ...o, timeoutMs: Number(o.timeoutMs) > 0 ? Number(o.timeoutMs) : 0, autoTakeover: !!o.autoTakeover },
      mechanism: locks ? 'web-locks' : ls ? 'local-storage' : 'none',
      locks, ls, channel: null, released: false, pending: null,
      lock: null, waiting: null, stealBy: null, stealByMono: 0,
      beat: 0, beatTimer: null, watchTimer: null, seenRaw: undefined, seenMono: mono(),
      unloading: false, hidden: false, pingSent: null, claiming: false, foreignClaimMono: -Infinity, claimsSeen: 0,
      state: null,
    };
    const prev = g;
    me.state = {
      mechanism: me.mechanism, role: 'idle', lockName: lockNameFor(o), tabId: randomId(),
      autoTakeover: me.opts.autoTakeover, takeovers: prev ? prev.state.takeovers : 0,
      stolen: prev ? prev.state.stolen : 0, conflicts: prev ? prev.state.conflicts : 0,
      since: Date.now(), acquiredTs: Date.now(), lastTakeoverTs: prev ? prev.state.lastTakeoverTs : null,
      lastStolenTs: prev ? prev.state.lastStolenTs : null, stolenBy: prev ? prev.state.stolenBy : null,
      primaryGone: false, events: prev ? prev.state.events.slice() : [], notes: [],
    };
    g = me;
    if (me.mechanism === 'none') {
      note('neither Web Locks nor a writable localStorage: tabs cannot be coordinated');
      become('unsupported', 'acquired');
      return Promise.resolve('unsupported');
    }
    me.channel = channel(me.state.lockName);
    if (me.channel) me.channel.onmessage = (ev) => onMessage(me, ev);
    else note('no BroadcastChannel: takeover notices are not sent; the lease fallback waits for expiry');
    if (me.mechanism === 'local-storage') {
      note(safe(() => globalThis.isSecureContext, true) === false
        ? 'Web Locks need a secure context (https or localhost): using the localStorage lease'
        : 'no Web Locks in this browser: using the localStorage lease');
    }
    me.onPageHide = (ev) => {
      if (g !== me || me.released) return;
      if (me.state.role === 'primary') post({ type: 'released' });
      if (me.mechanism === 'local-storage' && me.state.role === 'primary') {
        // No beat after this (the page going hidden would otherwise renew the lease it just gave up).
        me.unloading = true;
        stopBeating(me);
        const { lease } = readLease(me);
        if (lease && lease.owner === me.state.tabId) safe(() => me.ls.removeItem(me.state.lockName), null);
        me.hidden = !!(ev && ev.persisted);
      }
    };
    me.onPageShow = (ev) => {
      // Back from the back/forward cache: our lease was given up on pagehide.
      if (g === me && !me.released && me.hidden && ev && ev.persisted) {
        me.hidden = false;
        me.unloading = false;
        me.state.role = 'idle';
        me.pending = acquireLease(me).finally(() => { me.pending = null; });
      }
    };
    me.onStorage = (ev) => {
      if (g === me && !me.released && ev && ev.key === me.state.lockName && me.state.role === 'secondary') check(me);
    };
    // Back in the foreground (or unfrozen): renew, or learn at once that the lease was lost.
    me.onWake = () => {
      if (safe(() => globalThis.document.visibilityState, 'visible') === 'visible') beat(me);
    };
    listen(globalThis, 'pagehide', me.onPageHide);
    listen(globalThis, 'pageshow', me.onPageShow);
    if (me.mechanism === 'local-storage') {
      listen(globalThis, 'storage', me.onStorage);
      listen(globalThis.document, 'visibilitychange', me.onWake);
      listen(globalThis.document, 'resume', me.onWake);
    }
    const run = me.mechanism === 'web-locks' ? acquireLocks(me) : acquireLease(me);
    me.pending = run.catch((e) => {
      note('tab guard failed: ' + safe(() => String(e && e.message ? e.message : e), 'error'));
      return g === me ? me.state.role : 'secondary';
    }).finally(() => { me.pending = null; });
    return me.pending;
  } catch (e) {
    return Promise.resolve(g ? g.state.role : 'unsupported');
  }
}

/** Take the guard from whoever holds it. Resolves the new role; rejects without a guard. */
export function guardTakeOver() {
  try {
    const me = g;
    if (!me || me.released) return Promise.reject(new Error('takeOverTabGuard: call acquireTabGuard first'));
    if (me.mechanism === 'none') return Promise.resolve('unsupported');
    const go = () => {
      if (g !== me || me.released) return snapshot().role;
      if (me.state.role === 'primary') return 'primary';
      return me.mechanism === 'web-locks' ? stealLocks(me) : claim(me, 'steal');
    };
    const p = (me.pending ? me.pending.then(go) : Promise.resolve().then(go)).catch(() => snapshot().role);
    return p;
  } catch (_) {
    return Promise.resolve(snapshot().role);
  }
}

/** Let the guard go (lock, lease, waiting, timers). True if there was one. */
export function guardRelease() {
  try {
    const me = g;
    if (!me || me.released) return false;
    const wasPrimary = me.state.role === 'primary';
    teardown(me);
    if (wasPrimary) post({ type: 'released' });
    safe(() => me.channel && me.channel.close(), null);
    me.channel = null;
    const s = me.state;
    s.role = 'released';
    s.since = Date.now();
    s.events.push({ ts: s.since, role: 'released', cause: 'released', peer: null });
    if (s.events.length > MAX_EVENTS) s.events.shift();
    const detail = snapshot();
    detail.previousRole = wasPrimary ? 'primary' : 'secondary';
    detail.cause = 'released';
    safe(() => globalThis.dispatchEvent(new CustomEvent(EVENT, { detail })), null);
    return true;
  } catch (_) {
    return false;
  }
}

/** A plain copy of the guard's state (see getTabGuardState). */
export function guardState() {
  try { return snapshot(); } catch (_) { return null; }
}
