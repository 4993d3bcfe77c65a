// Console and window-error tap. Plain JS on purpose: it sits on every console
// call of the host app, so it must stay cheap and must keep working even if
// the wasm side traps. Rules: the original console method is called exactly
// once, first, with the caller's `this` and arguments; capture errors are
// swallowed and counted; a console call made while capturing is not captured
// again (no recursion); only lines passing the prefilter cross into wasm; an
// argument costs a bounded number of property reads whatever its size.
//
// Before the wasm is ready (`tapEarly`, called when the package is imported)
// lines go to a small bounded buffer, handed over once `tapInstall` gives the
// sink. Same-origin iframes are adopted as they are inserted: their console is
// wrapped the same way, each line tagged with its source, and widget API
// `message` events on the host and frame windows are observed (a passive
// listener: never altered, delayed or re-dispatched). Cross-origin frames are
// noted and never touched.

const LEVELS = ['debug', 'log', 'info', 'warn', 'error'];
const MAX_RENDER = 16 * 1024; // chars kept of one rendered line
const MAX_PART = 4 * 1024; // chars kept of one string inside an object
const MAX_ITEMS = 8; // array elements looked at per array
const MAX_DEPTH = 2; // objects inside objects
// Strings longer than this are not read at all. Reading any part of a string
// that V8 built by concatenation (a rope: `padEnd`, `+=` in a loop) flattens
// all of it first, ~4-5 ns per char in Chromium: a 16 Mi-char rope costs ~75 ms
// however little of it we keep. Up to this length that costs < 1 ms. Such an
// argument renders as its length and is counted (`capture.argsNotRead`).
const MAX_READ = 128 * 1024;

// Rendering never runs the app's code and is bounded before it starts. It
// never enumerates keys (a 1e6-key object costs what an empty one does), never
// calls getters, toString or toJSON, and reads only own data properties by
// name through Object.getOwnPropertyDescriptor: `message` and `name` of an
// Error, and the few fields where the SDK and Synapse put their text (errcode,
// error, message, msg, reason, body, data, cause, err). Typed arrays render as
// their type and length, through getters taken from the platform at load.
// Residuals: a Proxy cannot be detected in JS, so its getOwnPropertyDescriptor
// trap can still run (only that trap, and at most a few times per argument); an
// Error's name set on its prototype (TypeError) shows as `Error`; a string
// argument built by concatenation (a V8 rope) is flattened once when its head
// is cut, which costs time linear in its length (~1 ns/byte).
const FIELDS = ['errcode', 'error', 'message', 'msg', 'reason', 'body', 'err', 'data', 'cause'];
const gopd = Object.getOwnPropertyDescriptor;
const isView = ArrayBuffer.isView;
const taProto = Object.getPrototypeOf(Uint8Array.prototype);
const taLength = (gopd(taProto, 'length') || {}).get;
const taTag = (gopd(taProto, Symbol.toStringTag) || {}).get;
const dvLength = (gopd(DataView.prototype, 'byteLength') || {}).get;
const quote = JSON.stringify; // on a string only: no app code

// Lines kept before the wasm is ready, and their total size. In a tab alone the wasm loads only
// once the client is up: integrated Cinny logs ~70-120 lines until then, a KE-1 storm included.
const EARLY_MAX_LINES = 1000;
const EARLY_MAX_CHARS = 256 * 1024;
const MAX_FRAMES = 16; // frames noted in the stats
const FRAME_POLL_MS = 10000; // how long a navigating frame's new document is looked for
const WIDGET_ACTIONS = new Set(['send_to_device', 'send_event', 'update_state', 'org.matrix.msc4157.update_delayed_event']);
const MAX_WIDGET_CHARS = 256 * 1024;
const HOST = 'host';

let tap = null;
// The origin's IndexedDB databases as the page found them at import, [time, promise of the list]:
// the first crypto-store check judges that list (storage.rs), so a store the client re-creates
// before the wasm is loaded still shows it was gone.
let databases = null;

/** An own data property's value, or undefined (accessors and traps that throw skipped). */
function own(o, key) {
  const d = gopd(o, key);
  return d !== undefined && 'value' in d ? d.value : undefined;
}

/** At most `max` chars of `s`; a string too long to read renders as its length. */
function cut(s, max) {
  if (s.length > MAX_READ) return notRead(s);
  return s.length > max ? s.slice(0, max) + '…' : s;
}

/** What a string too long to read renders as. */
function notReadText(s) {
  return '[string of ' + s.length + ' chars, not read]';
}

/** The same, counted as a console argument not read. */
function notRead(s) {
  if (tap !== null) tap.notRead++;
  return notReadText(s);
}

function renderView(v) {
  const tag = taTag.call(v);
  return tag === undefined ? 'DataView(' + dvLength.call(v) + ')' : tag + '(' + taLength.call(v) + ')';
}

/** `name: message` of an Error-like object (own string `message`), else null. */
function renderError(o, depth) {
  const message = own(o, 'message');
  if (typeof message !== 'string') return null;
  const name = own(o, 'name');
  let out = (typeof name === 'string' ? cut(name, 64) : 'Error') + ': ' + cut(message, MAX_PART);
  if (depth < MAX_DEPTH) {
    const data = own(o, 'data'); // MatrixError: the homeserver's JSON body
    if (data !== null && typeof data === 'object') out += ' ' + renderObject(data, depth + 1);
    const cause = own(o, 'cause');
    if (cause !== undefined) out += ' cause: ' + renderValue(cause, depth + 1);
  }
  return out;
}

function renderObject(o, depth) {
  if (isView(o)) return renderView(o);
  if (Array.isArray(o)) {
    const len = own(o, 'length');
    const n = Math.min(typeof len === 'number' ? len : 0, MAX_ITEMS);
    let out = '[';
    for (let i = 0; i < n; i++) out += (i > 0 ? ',' : '') + (depth < MAX_DEPTH ? renderValue(own(o, i), depth + 1) : '…');
    return out + (len > n ? ',…]' : ']');
  }
  const e = renderError(o, depth);
  if (e !== null) return e;
  let out = '';
  for (const k of FIELDS) {
    const v = own(o, k);
    if (v === undefined) continue;
    let r;
    if (typeof v === 'string') r = quote(cut(v, MAX_PART));
    else if (v !== null && typeof v === 'object') {
      if (depth >= MAX_DEPTH) continue;
      r = renderObject(v, depth + 1);
    } else r = renderValue(v, depth + 1);
    out += (out === '' ? '{' : ',') + '"' + k + '":' + r;
  }
  return out === '' ? '{…}' : out + '}';
}

function renderValue(a, depth) {
  switch (typeof a) {
    case 'string': return cut(a, MAX_PART);
    case 'number': case 'boolean': case 'undefined': case 'bigint': return String(a);
    case 'symbol': return 'Symbol()';
    case 'function': return '[function]';
    default:
      if (a === null) return 'null';
      return renderObject(a, depth);
  }
}

export function renderArg(a) {
  try {
    return renderValue(a, 0);
  } catch (_) {
    return '[object]'; // a revoked Proxy, a throwing trap
  }
}

export function renderArgs(args) {
  let out = '';
  for (let i = 0; i < args.length && out.length < MAX_RENDER; i++) {
    if (i > 0) out += ' ';
    const a = args[i];
    const part = typeof a === 'string' ? (a.length > MAX_READ ? notRead(a) : a) : renderArg(a);
    // Cut each part before joining: slicing a joined rope would flatten a huge string.
    const room = MAX_RENDER - out.length;
    out += part.length > room ? part.slice(0, room) : part;
  }
  return out;
}

function capture(level, args, source) {
  const t = tap;
  if (t === null || t.busy) return;
  t.busy = true;
  try {
    t.seen++;
    if (source !== HOST) t.frameLines.set(source, (t.frameLines.get(source) || 0) + 1);
    const line = renderArgs(args);
    if (t.sink === null) { early(t, level, line, source); return; }
    feed(t, level, line, Date.now(), source);
  } catch (_) {
    t.errors++;
  } finally {
    t.busy = false;
  }
}

// Before the wasm is ready: keep the first lines, bounded in count and size.
function early(t, level, line, source) {
  if (t.early.length >= EARLY_MAX_LINES || t.earlyChars + line.length > EARLY_MAX_CHARS) { t.earlyDropped++; return; }
  t.earlyChars += line.length;
  t.early.push([level, line, Date.now(), source]);
}

function feed(t, level, line, ts, source) {
  try {
    if (!t.prefilter.test(line)) return;
    t.passed++;
    if (t.sinkBroken) { t.dropped++; return; }
    try {
      t.sink(level, line, ts, source);
    } catch (_) {
      // A trap inside wasm (a Rust panic) poisons the instance: stop feeding
      // it, keep the page's logging intact.
      t.sinkBroken = true;
      t.errors++;
    }
  } catch (_) {
    t.errors++;
  }
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function newTap() {
  return {
    sink: null,
    prefilter: null,
    consoles: [], // [console, originals, wrappers]
    wrapped: new WeakSet(), // console objects already wrapped
    busy: false,
    sinkBroken: false,
    seen: 0,
    passed: 0,
    errors: 0,
    dropped: 0,
    notRead: 0, // string arguments too long to read (MAX_READ)
    early: [],
    earlyChars: 0,
    earlyDropped: 0,
    earlyFed: 0,
    listeners: [], // [target, type, fn]
    frames: [], // notes: { source, crossOrigin, windows, via }
    frameLines: new Map(), // console calls seen per frame source
    observer: null,
    widgetMessages: 0,
    widgetDropped: 0,
    widgetForeign: 0,
  };
}

// Wrap one window's console. The original runs first and exactly once;
// whatever capture does, it neither throws into the caller nor changes what
// the original returned.
function wrapConsole(t, con, source) {
  if (!con || t.wrapped.has(con)) return false;
  t.wrapped.add(con);
  const originals = {};
  const wrappers = {};
  for (const level of LEVELS) {
    const original = con[level];
    if (typeof original !== 'function') continue;
    const wrapper = makeWrapper(original, level, source);
    originals[level] = original;
    wrappers[level] = wrapper;
    con[level] = wrapper;
  }
  t.consoles.push([con, originals, wrappers]);
  return true;
}

// Console calls in progress through our wrappers: a wrapper that calls another
// of ours (the app re-wrapped in between) captures once, at the outermost.
let depth = 0;

function makeWrapper(original, level, source) {
  return function () {
    depth++;
    try {
      return original.apply(this, arguments);
    } finally {
      depth--;
      if (depth === 0) try { capture(level, arguments, source); } catch (_) { /* counted inside when it can be */ }
    }
  };
}

// At install: a host console method the app replaced since the import is
// wrapped again (what the app put there is the original from now on).
function rewrapHost(t) {
  const rec = t.consoles.find((c) => c[0] === globalThis.console);
  if (rec === undefined) return;
  const [con, originals, wrappers] = rec;
  for (const level of LEVELS) {
    const current = con[level];
    if (typeof current !== 'function' || current === wrappers[level]) continue;
    originals[level] = current;
    wrappers[level] = makeWrapper(current, level, HOST);
    con[level] = wrappers[level];
  }
}

function listen(t, target, type, fn, opts) {
  try {
    target.addEventListener(type, fn, opts);
    t.listeners.push([target, type, fn, opts]);
  } catch (_) { /* no events here */ }
}

function windowEvents(t, win, source) {
  listen(t, win, 'error', (ev) => { capture('uncaught', [ev && (ev.error !== undefined && ev.error !== null ? ev.error : ev.message)], source); });
  listen(t, win, 'unhandledrejection', (ev) => { capture('unhandledrejection', [ev && ev.reason], source); });
}

// Widget API messages (matrix-widget-api: `{api, widgetId, requestId, action, data, response?}`),
// read from the event's own data (a structured clone: plain data, no app code).
// Only from a frame the tap adopted (on the host window), or from the host (on
// an adopted frame's window): any other sender could make the core read
// 256 KiB of crafted text per message.
function onMessage(ev) {
  const t = tap;
  if (t === null || !t.widgets || t.sinkBroken || t.busy) return;
  t.busy = true;
  try {
    const src = ev.source;
    const ours = ev.currentTarget === globalThis ? t.frames.some((f) => f.el.contentWindow === src && src !== null) : src === globalThis;
    if (!ours) { t.widgetForeign++; return; }
    const d = ev.data;
    if (d === null || typeof d !== 'object') return;
    const api = own(d, 'api');
    if (api !== 'fromWidget' && api !== 'toWidget') return;
    if (!WIDGET_ACTIONS.has(own(d, 'action'))) return;
    t.widgetMessages++;
    const text = JSON.stringify(d);
    if (typeof text !== 'string' || text.length > MAX_WIDGET_CHARS) { t.widgetDropped++; return; }
    t.sink('widget', text, Date.now(), HOST);
  } catch (_) {
    t.errors++;
  } finally {
    t.busy = false;
  }
}

/** `frame:#id`, or `frame:` and its address without query (same origin: the path). */
function frameSource(iframe) {
  try {
    const id = iframe.id;
    if (typeof id === 'string' && id !== '') return 'frame:#' + cut(id, 64);
    const u = new URL(iframe.src || 'about:blank', location.href);
    return 'frame:' + cut(u.origin === location.origin ? u.pathname : u.origin + u.pathname, 200);
  } catch (_) {
    return 'frame:?';
  }
}

function note(t, iframe, source) {
  let n = t.frames.find((f) => f.el === iframe);
  if (n === undefined) {
    if (t.frames.length >= MAX_FRAMES) return null;
    n = { el: iframe, source, crossOrigin: false, windows: 0, via: '' };
    t.frames.push(n);
  }
  n.source = source;
  return n;
}

// Wrap the frame's current window if it is same-origin and not wrapped yet.
// `via` says when: `insert` (the initial about:blank window, which Chromium
// keeps for the first same-origin document when src was set before insertion),
// `document` (a new document found while it was still loading), `load`.
function adoptWindow(t, iframe, via) {
  if (tap !== t) return;
  const source = frameSource(iframe);
  const n = note(t, iframe, source);
  let win;
  try {
    win = iframe.contentWindow;
    if (!win) return;
    void win.document; // throws for a cross-origin frame
  } catch (_) {
    if (n !== null) n.crossOrigin = true;
    return;
  }
  if (n !== null) n.crossOrigin = false;
  let con;
  try { con = win.console; } catch (_) { return; }
  if (!wrapConsole(t, con, source)) return;
  if (n !== null) { n.windows++; n.via = n.via === '' ? via : n.via + ',' + via; }
  if (t.windowEvents) windowEvents(t, win, source);
  listen(t, win, 'message', onMessage, { passive: true, capture: true });
}

// Look for the frame's next document on every task for a while: a navigation
// that replaces the window is caught while its document is still loading,
// before its deferred and module scripts run.
function pollFrame(t, iframe, doc) {
  const until = Date.now() + FRAME_POLL_MS;
  const tick = () => {
    if (tap !== t || !iframe.isConnected) return;
    let d = null;
    try { d = iframe.contentDocument; } catch (_) { d = null; }
    if (d !== null && d !== doc) {
      doc = d;
      adoptWindow(t, iframe, 'document');
      try {
        d.addEventListener('readystatechange', () => adoptWindow(t, iframe, 'document'), { once: true });
      } catch (_) { /* ignore */ }
    }
    if (Date.now() < until) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
}

function watchFrame(t, iframe) {
  if (t.frameEls.has(iframe)) return;
  t.frameEls.add(iframe);
  let doc = null;
  try { doc = iframe.contentDocument; } catch (_) { doc = null; }
  adoptWindow(t, iframe, 'insert');
  listen(t, iframe, 'load', () => adoptWindow(t, iframe, 'load'), { passive: true });
  pollFrame(t, iframe, doc);
}

function watchFrames(t) {
  const doc = globalThis.document;
  const MO = globalThis.MutationObserver;
  if (!doc || typeof MO !== 'function') return;
  t.frameEls = new WeakSet();
  const visit = (node) => {
    if (node.nodeType !== 1) return;
    if (node.tagName === 'IFRAME') watchFrame(t, node);
    else if (node.firstElementChild !== null) for (const f of node.getElementsByTagName('iframe')) watchFrame(t, f);
  };
  t.observer = new MO((records) => {
    if (tap !== t) return;
    try {
      for (const r of records) {
        if (r.type === 'attributes') { if (r.target.tagName === 'IFRAME') pollFrame(t, r.target, null); continue; }
        for (const node of r.addedNodes) visit(node);
      }
    } catch (_) { t.errors++; }
  });
  t.observer.observe(doc, { childList: true, subtree: true, attributes: true, attributeFilter: ['src', 'srcdoc'] });
  for (const f of doc.getElementsByTagName('iframe')) watchFrame(t, f);
}

/**
 * At import, before the wasm is ready: wrap the console and keep lines in a
 * bounded buffer until `tapInstall` gives the sink. Idempotent.
 */
export function tapEarly() {
  if (tap !== null) return false;
  try {
    const p = indexedDB.databases();
    p.catch(() => {}); // its rejection is read, with the list, by the check
    databases = [Date.now(), p];
  } catch (_) { /* no IndexedDB or no databases(): the check asks itself */ }
  const con = globalThis.console;
  if (!con) return false;
  const t = newTap();
  tap = t;
  wrapConsole(t, con, HOST);
  return true;
}

/** The import-time list, once: [time, promise], or null. */
export function tapDatabases() {
  const d = databases;
  databases = null;
  return d;
}

// Returns true when newly installed, false when already installed (idempotent).
export function tapInstall(sink, needles, winEvents, frames) {
  if (tap !== null && tap.sink !== null) return false;
  if (tap === null && !tapEarly()) return false;
  const t = tap;
  t.prefilter = new RegExp(needles.map(escapeRe).join('|'));
  t.sink = sink;
  t.windowEvents = !!winEvents;
  rewrapHost(t);
  // What was logged before the wasm was ready goes in first, in order.
  const early = t.early;
  t.early = [];
  t.busy = true;
  try {
    for (const [level, line, ts, source] of early) { t.earlyFed++; feed(t, level, line, ts, source); }
  } finally {
    t.busy = false;
  }
  if (winEvents && typeof globalThis.addEventListener === 'function') windowEvents(t, globalThis, HOST);
  if (frames) {
    t.widgets = true;
    listen(t, globalThis, 'message', onMessage, { passive: true, capture: true });
    try { watchFrames(t); } catch (_) { t.errors++; }
  }
  return true;
}

// Restores the originals. A method someone else re-wrapped after us is left
// alone (restoring it would drop their wrapper); ours then just passes through.
export function tapUninstall() {
  const t = tap;
  if (t === null) return false;
  tap = null;
  for (const [con, originals, wrappers] of t.consoles) {
    try {
      for (const level of Object.keys(originals)) {
        if (con[level] === wrappers[level]) con[level] = originals[level];
      }
    } catch (_) { /* a frame gone away */ }
  }
  for (const [target, type, fn, opts] of t.listeners) {
    try { target.removeEventListener(type, fn, opts); } catch (_) { /* ignore */ }
  }
  if (t.observer !== null) t.observer.disconnect();
  return true;
}

export function tapStats() {
  const t = tap;
  if (t === null) return null;
  return {
    seen: t.seen, passed: t.passed, errors: t.errors, dropped: t.dropped, notRead: t.notRead, sinkBroken: t.sinkBroken,
    earlyFed: t.earlyFed, earlyDropped: t.earlyDropped, widgetMessages: t.widgetMessages, widgetDropped: t.widgetDropped, widgetForeign: t.widgetForeign,
    // One line per frame, tab-separated (the wasm reads it without a deserializer).
    frames: t.frames.map((f) => [f.source.replace(/[\t\n]/g, ' '), f.crossOrigin, f.windows, f.via, t.frameLines.get(f.source) || 0].join('\t')).join('\n'),
  };
}

/** After an internal error: stop feeding the wasm; the console keeps working. */
export function tapStop() {
  if (tap !== null) tap.sinkBroken = true;
}

/** While paused (our own panic message), console calls pass straight through. */
export function tapPause(on) {
  if (tap !== null) tap.busy = !!on;
}

const MAX_JSON_NODES = 10000; // values written of an object the app hands us
const MAX_JSON_DEPTH = 8;

/**
 * JSON text of a value the app hands us (the report's `extra`), read as the
 * console render reads: own enumerable data properties only, so no getter,
 * `toJSON` or `toString` of the app runs (a Proxy's ownKeys and
 * getOwnPropertyDescriptor traps still can). Bounded in depth and values;
 * what has no JSON form (functions, symbols, BigInt, typed arrays, what is past
 * the bounds) is left out. null when nothing is left.
 */
export function plainJson(v) {
  let nodes = 0;
  const walk = (x, depth) => {
    if (++nodes > MAX_JSON_NODES) return undefined;
    switch (typeof x) {
      case 'string': return quote(x.length > MAX_READ ? notReadText(x) : x);
      case 'number': return Number.isFinite(x) ? String(x) : 'null';
      case 'boolean': return x ? 'true' : 'false';
      case 'object': break;
      default: return undefined;
    }
    if (x === null) return 'null';
    if (depth >= MAX_JSON_DEPTH || isView(x) || x instanceof ArrayBuffer) return undefined;
    if (Array.isArray(x)) {
      const len = own(x, 'length');
      const n = Math.min(typeof len === 'number' ? len : 0, MAX_JSON_NODES);
      const items = [];
      for (let i = 0; i < n && nodes <= MAX_JSON_NODES; i++) {
        const w = walk(own(x, i), depth + 1);
        items.push(w === undefined ? 'null' : w);
      }
      return '[' + items.join(',') + ']';
    }
    const parts = [];
    for (const k of Object.keys(x)) {
      if (nodes > MAX_JSON_NODES) break;
      const w = walk(own(x, k), depth + 1);
      if (w !== undefined) parts.push(quote(k) + ':' + w);
    }
    return '{' + parts.join(',') + '}';
  };
  try {
    const text = walk(v, 0);
    return text === undefined ? null : text;
  } catch (_) {
    return null; // a revoked Proxy, a throwing trap
  }
}
