// Console and window-error tap. Plain JS on purpose: it sits on every console
// call of the host app, so it must stay cheap and must keep working even if
// the wasm side traps. Rules: the original console method is called exactly
// once, first, with the caller's `this` and arguments; capture errors are
// swallowed and counted; a console call made while capturing is not captured
// again (no recursion); only lines passing the prefilter cross into wasm.

const LEVELS = ['debug', 'log', 'info', 'warn', 'error'];
const MAX_RENDER = 16 * 1024; // chars kept of one rendered line
const MAX_NODES = 200; // object properties visited per argument

let tap = null;

function renderError(e) {
  let name = 'Error';
  let message = '';
  try { name = String(e.name); } catch (_) { /* throwing getter */ }
  try { message = String(e.message); } catch (_) { /* throwing getter */ }
  return name + ': ' + message;
}

function renderObject(o) {
  let nodes = 0;
  const seen = new WeakSet();
  try {
    const json = JSON.stringify(o, function (_key, v) {
      if (++nodes > MAX_NODES) return '[…]';
      switch (typeof v) {
        case 'bigint': return v.toString() + 'n';
        case 'symbol': return v.toString();
        case 'function': return '[function ' + (v.name || 'anonymous') + ']';
        case 'object':
          if (v === null) return v;
          if (v instanceof Error) return renderError(v);
          if (seen.has(v)) return '[Circular]';
          seen.add(v);
          return v;
        default: return v;
      }
    });
    return json === undefined ? String(json) : json;
  } catch (_) {
    try { return Object.prototype.toString.call(o); } catch (_) { return '[object]'; }
  }
}

export function renderArg(a) {
  switch (typeof a) {
    case 'string': return a;
    case 'number': case 'boolean': case 'undefined': case 'bigint': return String(a);
    case 'symbol': return a.toString();
    case 'function': return '[function ' + (a.name || 'anonymous') + ']';
    default:
      if (a === null) return 'null';
      if (a instanceof Error) return renderError(a);
      return renderObject(a);
  }
}

export function renderArgs(args) {
  let out = '';
  for (let i = 0; i < args.length && out.length < MAX_RENDER; i++) {
    if (i > 0) out += ' ';
    out += renderArg(args[i]);
  }
  return out.length > MAX_RENDER ? out.slice(0, MAX_RENDER) : out;
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
    const wrapper = function () {
      try {
        return original.apply(this, arguments);
      } finally {
        capture(level, arguments);
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
