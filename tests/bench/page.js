// The benchmark, run inside Chromium by tests/bench/bench.mjs. Everything is
// measured in this one page, in one run: scenarios are interleaved round by
// round (order rotated) and the medians are reported. Results go back to the
// runner with a POST to /result (the runner keeps no DevTools session on this
// page: see bench.mjs).
import { NON_MATCHING, MATCHING, STORM, STRING_ONLY, OBJECT_MIX, hostileArgs, uploadBody, CONFLICT_BODY } from './lines.js';
import { installReference, uninstallReference } from './reference.js';

const Q = new URLSearchParams(location.search);
const QUICK = Q.has('quick');
const realFetch = globalThis.fetch.bind(globalThis);
const realNow = Date.now;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round3 = (x) => Math.round(x * 1000) / 1000;
const tick = () => new Promise((r) => setTimeout(r, 0));
// Progress lines for the runner's output (a hang then says where).
const note = (msg) => realFetch('/progress', { method: 'POST', body: msg }).catch(() => {});

// ------------------------------------------------------------------ init
// Each iframe is a fresh document with its own module map: import + fetch +
// compile + instantiate, from loopback with caching off.
function initInFrame(i) {
  return new Promise((resolve, reject) => {
    const f = document.createElement('iframe');
    const timer = setTimeout(() => reject(new Error('init frame timed out')), 20000);
    const onMsg = (ev) => {
      if (ev.source !== f.contentWindow) return;
      window.removeEventListener('message', onMsg);
      clearTimeout(timer);
      f.remove();
      if (ev.data && typeof ev.data.initMs === 'number') resolve({ ms: ev.data.initMs, cold: ev.data.initColdMs });
      else reject(new Error('init frame: ' + JSON.stringify(ev.data)));
    };
    window.addEventListener('message', onMsg);
    f.src = '/bench/init.html?i=' + i;
    document.body.appendChild(f);
  });
}

// --------------------------------------------------------------- console
function callBatch(level, lines, n) {
  const t = performance.now();
  for (let i = 0; i < n; i++) console[level].apply(console, lines[i % lines.length]);
  return ((performance.now() - t) * 1000) / n; // µs per call
}

// `stub`: the console method is replaced by a no-op first, so the figures are
// the wrappers' own cost without the (large, noisy) cost of the browser's console.
let sunk = 0;
// `naive`: the reference renders objects as String(o) (see reference.js).
function consoleBench(api, lines, { levels, rounds, n, stub = false, naive = false }) {
  const scenarios = {
    none: { on() {}, off() {} },
    ours: { on() { api.installCryptoDiagLog({ windowEvents: false }); }, off() { api.uninstallCryptoDiagLog(); } },
    reference: { on() { installReference({ objectsAsString: naive }); }, off() { uninstallReference(); } },
  };
  const names = Object.keys(scenarios);
  const out = {};
  for (const level of levels) {
    const native = console[level];
    if (stub) console[level] = function () { sunk++; };
    const samples = Object.fromEntries(names.map((k) => [k, []]));
    // Warm-up: every path JIT-compiled before the first timed round.
    for (const k of names) { scenarios[k].on(); callBatch(level, lines, Math.min(n, 2000)); scenarios[k].off(); }
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < names.length; j++) {
        const k = names[(r + j) % names.length];
        scenarios[k].on();
        samples[k].push(callBatch(level, lines, n));
        scenarios[k].off();
      }
    }
    console[level] = native;
    out[level] = Object.fromEntries(names.map((k) => [k, median(samples[k])]));
    // Per-round paired differences: robust against drift between rounds.
    const d = (k) => median(samples[k].map((x, i) => x - samples.none[i]));
    out[level].oursOverhead = d('ours');
    out[level].referenceOverhead = d('reference');
    out[level].samples = samples;
  }
  return out;
}

// Worst single console call (console stubbed, capture on) over hostile
// arguments; each is logged the way the SDK would, after a prefix string.
// Rounds of one call per argument, each round on a fresh install (so every
// call is the first of its kind, the one a page pays); the figure per argument
// is the median over rounds, so one descheduled call on a busy machine does not
// decide, while a real cost shows in every round.
function hostileBench(api, rounds) {
  const native = console.warn;
  console.warn = function () { sunk++; };
  let args = hostileArgs();
  const ms = args.map(() => []);
  try {
    for (let r = 0; r < rounds; r++) {
      // New arguments each round: V8 keeps a rope flat once it was read.
      if (r > 0) args = hostileArgs();
      api.installCryptoDiagLog({ windowEvents: false });
      try {
        args.forEach(([, arg], i) => {
          // A collection first: the arguments are a heap of hundreds of MB, and a
          // major GC that the next allocation (anyone's) triggers would otherwise
          // be timed as that call's (~125 ms here).
          if (typeof gc === 'function') gc();
          const t = performance.now();
          console.warn('[hostile]', arg);
          ms[i].push(performance.now() - t);
        });
      } finally {
        api.uninstallCryptoDiagLog();
        api.clearCryptoDiagEntries(); // the next round's lines are new entries, not repeats
      }
    }
  } finally {
    console.warn = native;
  }
  const calls = args.map(([name], i) => ({ name, ms: median(ms[i]), max: Math.max(...ms[i]) }));
  const worst = calls.reduce((a, b) => (b.ms > a.ms ? b : a));
  return { worstMs: worst.ms, worstArg: worst.name, rounds, calls };
}

// An endless keys/upload 400 (no content-length): what the tap holds beyond
// what the app has read, from the source's own count of bytes pulled. The app
// first leaves the body unread (the tap reads its clone meanwhile), then reads
// 16 MiB of it and cancels.
async function endlessBench(api) {
  const CHUNK = 64 * 1024;
  let pulled = 0;
  const endless = () => new ReadableStream({
    pull(c) { if (pulled < 512 * 1024 * 1024) { pulled += CHUNK; c.enqueue(new Uint8Array(CHUNK)); } else c.close(); },
  }, { highWaterMark: 1 });
  globalThis.fetch = () => Promise.resolve(new Response(endless(), { status: 400, headers: { 'content-type': 'application/json' } }));
  const run = async (tap) => {
    pulled = 0;
    if (tap) api.installHttpTap();
    try {
      const resp = await fetch(UPLOAD_URL, { method: 'POST', body: '{"one_time_keys":{}}' });
      await new Promise((r) => setTimeout(r, 300));
      const idle = pulled;
      const reader = resp.body.getReader();
      let read = 0;
      while (read < 16 * 1024 * 1024) {
        const { done, value } = await reader.read();
        if (done) break;
        read += value.byteLength;
      }
      const held = pulled - read;
      await reader.cancel();
      return { idle, held, read };
    } finally {
      if (tap) api.uninstallHttpTap();
    }
  };
  try {
    const none = await run(false);
    const ours = await run(true);
    return {
      none, ours,
      extraBytes: Math.max(ours.idle - none.idle, ours.held - none.held),
      appGotAll: ours.read === none.read && ours.read >= 16 * 1024 * 1024,
    };
  } finally {
    globalThis.fetch = realFetch;
  }
}

// ----------------------------------------------------------------- fetch
// The tap wraps a stub fetch that answers at once, so the figure is the tap's
// own cost per request (bodies cloned and read, wasm called), not network noise.
const UPLOAD_URL = location.origin + '/_matrix/client/v3/keys/upload';
// An endpoint the tap does not watch (one regex test), and /sync, whose 2xx answers it reads.
const OTHER_URL = location.origin + '/_matrix/client/v3/pushrules/?since=s72594_4483';
const SYNC_URL = location.origin + '/_matrix/client/v3/sync?filter=3&timeout=30000&since=s72594_4483';
const OK_UPLOAD = JSON.stringify({ one_time_key_counts: { signed_curve25519: 50 } });
const SYNC_BODY = JSON.stringify({ next_batch: 's72595_4483', rooms: { join: {} }, to_device: { events: [] }, device_one_time_keys_count: { signed_curve25519: 50 } });
let uploadStatus = 200;

function stubFetch(input) {
  const url = typeof input === 'string' ? input : input.url;
  const upload = url.includes('/keys/upload');
  const status = upload ? uploadStatus : 200;
  const body = upload ? (status === 200 ? OK_UPLOAD : CONFLICT_BODY) : SYNC_BODY;
  return Promise.resolve(new Response(body, { status, headers: { 'content-type': 'application/json' } }));
}

// `init`: one RequestInit, or an array cycled through (a new body each time).
async function fetchBatch(url, init, n) {
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const r = await fetch(url, Array.isArray(init) ? init[i % init.length] : init);
    await r.text(); // the app reads its body
  }
  await tick(); // let the tap's clone reads and wasm calls finish inside the timed region
  return ((performance.now() - t) * 1000) / n;
}

async function fetchBench(api, { rounds, n }) {
  globalThis.fetch = stubFetch;
  const body = uploadBody();
  const post = (b) => ({ method: 'POST', body: b, headers: { 'content-type': 'application/json' } });
  // Distinct bodies of the same shape (one key differs): each one is read in full.
  const fresh = Array.from({ length: 16 }, (_, i) => post(body.replace('"key":"', `"key":"${i.toString(16)}`)));
  const cases = {
    other: [OTHER_URL, { method: 'GET' }],
    sync: [SYNC_URL, { method: 'GET' }],
    keysUpload: [UPLOAD_URL, fresh],
    // The storm case: the SDK re-sends the identical body.
    keysUploadRepeat: [UPLOAD_URL, post(body)],
  };
  const out = {};
  for (const [name, [url, init]] of Object.entries(cases)) {
    const s = { none: [], ours: [] };
    api.installHttpTap(); await fetchBatch(url, init, 50); api.uninstallHttpTap();
    for (let r = 0; r < rounds; r++) {
      for (const k of r % 2 ? ['ours', 'none'] : ['none', 'ours']) {
        if (k === 'ours') api.installHttpTap();
        s[k].push(await fetchBatch(url, init, n));
        if (k === 'ours') api.uninstallHttpTap();
      }
    }
    out[name] = { none: median(s.none), ours: median(s.ours), overhead: median(s.ours) - median(s.none), samples: s };
  }
  globalThis.fetch = realFetch;
  // For scale: one real request to the loopback server, no tap.
  const real = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await (await realFetch(OTHER_URL)).text();
    real.push((performance.now() - t) * 1000);
  }
  out.loopbackRequestUs = median(real);
  out.uploadBodyBytes = body.length;
  return out;
}

// ---------------------------------------------------------------- report
function reportBench(api, runs) {
  api.installCryptoDiagLog({ windowEvents: false });
  // Distinct matching lines (repeats would fold into one entry) until the ring is full.
  for (let i = 0; i < 600; i++) {
    console.warn(`MissingKey: missing key at index ${i % 97} for participant @user${i}:example.org:DEV${i}`);
    if (i % 3 === 0) console.error(MATCHING[0][0].replace('AAAAAAAAAA0', 'AAAAAAAA' + String(i).padStart(3, 'A').slice(-3)));
  }
  const entries = api.getCryptoDiagEntries().length;
  const times = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const text = api.buildCryptoDiagReport(undefined, { appVersion: 'bench', sdkVersion: '41.7.0' });
    times.push(performance.now() - t);
    bytes = text.length;
  }
  api.uninstallCryptoDiagLog();
  return { ms: median(times), entries, bytes, samples: times };
}

// ----------------------------------------------------------------- storm
function heap(wasmMemory) {
  if (typeof globalThis.gc === 'function') { globalThis.gc(); globalThis.gc(); }
  const js = performance.memory ? performance.memory.usedJSHeapSize : NaN;
  return { js, wasm: wasmMemory.buffer.byteLength };
}

// `seconds` of simulated time at `perSecond` matching lines, plus one
// keys/upload answered 400 every 150 ms (400 in 60 s). Date.now is driven by
// the loop, so time windows and folding behave as in a real storm.
async function storm(api, seconds, perSecond) {
  let sim = realNow.call(Date);
  Date.now = () => sim;
  globalThis.fetch = stubFetch;
  uploadStatus = 400;
  const body = uploadBody();
  const step = 1000 / perSecond;
  let responses = 0;
  let lines = 0;
  try {
    for (let s = 0; s < seconds; s++) {
      for (let i = 0; i < perSecond; i++) {
        sim += step;
        switch (i % 3) {
          case 0: console.error(STORM[0]); break;
          case 1: console.debug(MATCHING[1][0]); break;
          default: console.warn(`MissingKey: missing key at index ${i % 1000} for participant @bob:example.org:BOB${s}`);
        }
        if (lines++ % Math.round(perSecond * 0.15) === 0) {
          await (await fetch(UPLOAD_URL, { method: 'POST', body })).text();
          responses++;
        }
      }
      await tick();
      if (s % 10 === 9) note(`storm: ${s + 1} s simulated, ${lines} lines`);
    }
  } finally {
    Date.now = realNow;
    globalThis.fetch = realFetch;
    uploadStatus = 200;
  }
  return { lines, responses };
}

async function stormBench(api, wasmMemory, seconds, perSecond) {
  api.installCryptoDiagLog({ windowEvents: false });
  const tapOn = api.installHttpTap();
  await storm(api, 1, perSecond); // warm-up: ring buffer full, allocator grown, code compiled
  const before = heap(wasmMemory);
  const t = performance.now();
  const half = Math.floor(seconds / 2);
  const a = await storm(api, half, perSecond);
  const mid = heap(wasmMemory);
  const b = await storm(api, seconds - half, perSecond);
  const wall = performance.now() - t;
  const after = heap(wasmMemory);
  const health = api.otkHealth();
  const entries = api.getCryptoDiagEntries().length;
  api.uninstallHttpTap();
  api.uninstallCryptoDiagLog();
  return {
    seconds, perSecond, lines: a.lines + b.lines, responses: a.responses + b.responses, wallMs: wall, tapOn,
    before, mid, after,
    growth: (after.js - before.js) + (after.wasm - before.wasm),
    growthSecondHalf: (after.js - mid.js) + (after.wasm - mid.wasm),
    preciseHeap: typeof globalThis.gc === 'function',
    entries, phase: health && health.phase, conflicts: health && health.uploads && health.uploads.conflicts,
  };
}

// ------------------------------------------------------------------ main
async function main() {
  const out = { quick: QUICK, userAgent: navigator.userAgent, crossOriginIsolated: globalThis.crossOriginIsolated === true };
  // A frame costs ~0.1 s, and three were too few to outvote one slow start on a busy machine.
  const initRuns = QUICK ? 7 : 11;
  const t0 = performance.now();
  const api = await import('/pkg/index.js');
  await api.loadCryptoHealth();
  out.initFirstMs = performance.now() - t0;
  const wasm = api.initSync(); // already initialised: returns the instance's exports (memory)
  note('loaded; init in fresh frames');
  const frames = [];
  for (let i = 0; i < initRuns; i++) frames.push(await initInFrame(i));
  out.init = {
    ms: median(frames.map((f) => f.ms)),
    samples: frames.map((f) => f.ms),
    // Counted from before the document's first import (see init.html).
    coldMs: median(frames.map((f) => f.cold)),
    coldSamples: frames.map((f) => f.cold),
  };

  const cfg = QUICK ? { rounds: 15, n: 2000 } : { rounds: 41, n: 3000 };
  note('console, non-matching');
  out.nonMatching = consoleBench(api, NON_MATCHING, { levels: ['warn', 'debug'], ...cfg });
  note('console, matching');
  // Stubbed console: calls are ~100x cheaper, so batches are bigger.
  out.nonMatchingStub = consoleBench(api, NON_MATCHING, { levels: ['warn', 'debug'], rounds: cfg.rounds, n: cfg.n * 10, stub: true });
  note('console, matching');
  out.matching = consoleBench(api, MATCHING, { levels: ['error'], rounds: cfg.rounds, n: 1000 });
  out.matchingStub = consoleBench(api, MATCHING, { levels: ['error'], rounds: cfg.rounds, n: 2000, stub: true });
  note('console, string-only and object mix vs naive capture');
  out.stringsStub = consoleBench(api, STRING_ONLY, { levels: ['warn', 'debug'], rounds: cfg.rounds, n: cfg.n * 10, stub: true, naive: true });
  out.mixStub = consoleBench(api, OBJECT_MIX, { levels: ['warn', 'debug'], rounds: cfg.rounds, n: cfg.n * 10, stub: true, naive: true });
  note('console, hostile arguments');
  out.hostile = hostileBench(api, QUICK ? 3 : 5);
  note('fetch tap, endless 400');
  out.endless = await endlessBench(api);
  note('fetch tap');
  out.fetch = await fetchBench(api, { rounds: QUICK ? 7 : 15, n: QUICK ? 200 : 400 });
  note('report');
  out.report = reportBench(api, QUICK ? 9 : 21);
  note('storm');
  out.storm = await stormBench(api, wasm.memory, Number(Q.get('stormSeconds') || 60), 10000);
  return out;
}

main().then(
  (r) => realFetch('/result', { method: 'POST', body: JSON.stringify({ ok: true, result: r }) }),
  (e) => realFetch('/result', { method: 'POST', body: JSON.stringify({ ok: false, error: String(e && e.stack || e) }) }),
);
