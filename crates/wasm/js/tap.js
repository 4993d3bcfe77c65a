// Console and window-error tap. Plain JS on purpose: it sits on every console
// call of the host app, so it must stay cheap and must keep working even if
// the wasm side traps. Rules: the original console method is called exactly
// once, first, with the caller's `this` and arguments; capture errors are
// swallowed and counted; a console call made while capturing is not captured
// again (no recursion); only lines passing the prefilter cross into wasm; an
// argument costs a bounded number of property reads whatever its size.

const LEVELS = ['debug', 'log', 'info', 'warn', 'error'];
const MAX_RENDER = 16 * 1024; // chars kept of one rendered line
const MAX_PART = 4 * 1024; // chars kept of one string inside an object
const MAX_ITEMS = 8; // array elements looked at per array
const MAX_DEPTH = 2; // objects inside objects

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

let tap = null;

/** An own data property's value, or undefined (accessors and traps that throw skipped). */
function own(o, key) {
  const d = gopd(o, key);
  return d !== undefined && 'value' in d ? d.value : undefined;
}

function cut(s, max) {
  return s.length > max ? s.slice(0, max) + '…' : s;
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
    case 'string': return a;
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
    const part = typeof a === 'string' ? a : renderArg(a);
    // Cut each part before joining: slicing a joined rope would flatten a huge string.
    const room = MAX_RENDER - out.length;
    out += part.length > room ? part.slice(0, room) : part;
  }
  return out;
}

function capture(level, args) {
  const t = tap;
  if (t === null || t.busy) return;
  t.busy = true;
  try {
    t.seen++;
    const line = renderArgs(args);
    if (!t.prefilter.test(line)) return;
    t.passed++;
    if (t.sinkBroken) { t.dropped++; return; }
    try {
      t.sink(level, line, Date.now());
    } catch (_) {
      // A trap inside wasm (a Rust panic) poisons the instance: stop feeding
      // it, keep the page's logging intact.
      t.sinkBroken = true;
      t.errors++;
    }
  } catch (_) {
    t.errors++;
  } finally {
    t.busy = false;
  }
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Returns true when newly installed, false when already installed (idempotent).
export function tapInstall(sink, needles, windowEvents) {
  if (tap !== null) return false;
  const con = globalThis.console;
  if (!con) return false;
  const t = {
    sink,
    prefilter: new RegExp(needles.map(escapeRe).join('|')),
    originals: {},
    wrappers: {},
    busy: false,
    sinkBroken: false,
    seen: 0,
    passed: 0,
    errors: 0,
    dropped: 0,
    listeners: [],
  };
  for (const level of LEVELS) {
    const original = con[level];
    if (typeof original !== 'function') continue;
    // The original runs first and exactly once; whatever capture does, it
    // neither throws into the caller nor changes what the original returned.
    const wrapper = function () {
      try {
        return original.apply(this, arguments);
      } finally {
        try { capture(level, arguments); } catch (_) { /* counted inside when it can be */ }
      }
    };
    t.originals[level] = original;
    t.wrappers[level] = wrapper;
    con[level] = wrapper;
  }
  if (windowEvents && typeof globalThis.addEventListener === 'function') {
    const onError = (ev) => { capture('uncaught', [ev && (ev.error !== undefined && ev.error !== null ? ev.error : ev.message)]); };
    const onRejection = (ev) => { capture('unhandledrejection', [ev && ev.reason]); };
    try {
      globalThis.addEventListener('error', onError);
      globalThis.addEventListener('unhandledrejection', onRejection);
      t.listeners.push(['error', onError], ['unhandledrejection', onRejection]);
    } catch (_) { /* no window events here */ }
  }
  tap = t;
  return true;
}

// Restores the originals. A method someone else re-wrapped after us is left
// alone (restoring it would drop their wrapper); ours then just passes through.
export function tapUninstall() {
  const t = tap;
  if (t === null) return false;
  tap = null;
  const con = globalThis.console;
  for (const level of Object.keys(t.originals)) {
    if (con[level] === t.wrappers[level]) con[level] = t.originals[level];
  }
  for (const [type, fn] of t.listeners) {
    try { globalThis.removeEventListener(type, fn); } catch (_) { /* ignore */ }
  }
  return true;
}

export function tapStats() {
  const t = tap;
  if (t === null) return null;
  return { seen: t.seen, passed: t.passed, errors: t.errors, dropped: t.dropped, sinkBroken: t.sinkBroken };
}

/** After an internal error: stop feeding the wasm; the console keeps working. */
export function tapStop() {
  if (tap !== null) tap.sinkBroken = true;
}

/** While paused (our own panic message), console calls pass straight through. */
export function tapPause(on) {
  if (tap !== null) tap.busy = !!on;
}
