#!/usr/bin/env node
// Performance benchmark of the release package in headless Chromium.
//
//   npm run bench                      (builds pkg/ first, then this)
//   node tests/bench/bench.mjs [--quick] [--playwright] [--page:stormSeconds=N]
//
// Measures, in one page and one run (tests/bench/page.js): console capture vs
// no capture vs a plain-JS reference capture (tests/bench/reference.js) on
// non-matching and matching SDK lines, the fetch tap per request, report
// building with a full buffer, memory growth over a simulated storm, init
// time, and the bundle size. Writes target/bench/results.json, prints a
// table and says which goals are met. Timing goals are reported, not
// asserted: the exit code is non-zero only when the harness fails or memory
// clearly grows without bound.
//
// Chromium is started directly, without a DevTools session on the page: with
// Playwright attached, every console call is also serialised and sent to Node
// (Runtime.consoleAPICalled), which makes the uncaptured baseline several
// times slower than in a user's browser and hides the wrapper's cost.
// `--playwright` runs the same page under playwright-core to show that effect.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants as zc } from 'node:zlib';
import { CHROMIUM, CHROMIUM_ARGS } from '../lib/chromium.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PKG = path.join(ROOT, 'pkg');
const HERE = path.join(ROOT, 'tests', 'bench');
const OUT = path.join(ROOT, 'target', 'bench', 'results.json');
// Started directly (not through Playwright), so --headless is ours to pass.
const ARGS = ['--headless', ...CHROMIUM_ARGS,
  // Exact JS heap figures (performance.memory is bucketed otherwise) and gc() before each reading.
  '--enable-precise-memory-info', '--js-flags=--expose-gc'];
const QUICK = process.argv.includes('--quick');
const PLAYWRIGHT = process.argv.includes('--playwright');
// The hostile-argument and endless-body sections add ~15 s to the run.
const TIMEOUT_MS = 240_000;

// Goals from the issue; `max` is the bound the figure must not exceed.
const MIB = 1024 * 1024;
const GOALS = [
  // The redesign's hot-path budget: no worse than before it (0.60–0.62 and 1.00–1.03 then).
  { key: 'console_vs_js_reference_ratio', max: 0.7, what: 'capture overhead vs plain-JS capture (warn+debug, non-matching)' },
  { key: 'console_nonmatching_overhead_ratio', max: 1.05, what: 'console call with capture / without: (real console + capture cost) / real console (warn+debug, non-matching)' },
  { key: 'console_mix_vs_naive_ratio', max: 1.0, what: 'capture cost vs naive JS capture (objects as [object Object]), 13 calls, 3 with objects' },
  { key: 'console_strings_vs_naive_ratio', max: 0.7, what: 'capture cost vs naive JS capture, string-only lines' },
  { key: 'console_hostile_worst_ms', max: 2, what: 'worst single console call over hostile arguments (console stubbed)' },
  { key: 'fetch_endless_extra_bytes', max: 1 * MIB, what: 'bytes the fetch tap holds beyond the app on an endless 400 body' },
  { key: 'storm_heap_growth_bytes', max: 1 * MIB, what: 'JS heap + wasm memory growth, 60 s storm' },
  { key: 'init_ms', max: 30, what: 'import to ready: fetch, compile, instantiate (median of fresh frames, module loader started)' },
  // The build's budget (scripts/build.mjs fails above it).
  { key: 'bundle_gzip_bytes', max: 152 * 1024, what: 'wasm + pkg/index.js (all JS loaded at import), gzip -9' },
  // Native, from the core's cost test (crates/core/tests/cost_per_byte.rs, run by the native stage).
  { key: 'redact_hostile_vs_plain_ratio', max: 3, what: 'redaction time per byte, worst hostile line / plain line (native)' },
  { key: 'observe_hostile_vs_plain_ratio', max: 3, what: 'journal observe time per byte, worst hostile line / plain line (native)' },
];
// Beyond this the memory is not "a bit over budget" but unbounded: a harness failure.
const BROKEN_GROWTH = 16 * MIB;

/** The hostile/plain factors the native cost test wrote (target/bench/cost_per_byte.json), if it ran. */
function nativeCost() {
  const file = path.join(ROOT, 'target', 'bench', 'cost_per_byte.json');
  if (!existsSync(file)) return {};
  const all = JSON.parse(readFileSync(file, 'utf8'));
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.value]));
}

function fail(msg) {
  console.error(`[bench] ERROR: ${msg}`);
  process.exit(2);
}

if (!existsSync(path.join(PKG, 'crypto_health_bg.wasm'))) fail('pkg/ is missing: run `npm run build` (or `npm run bench`, which builds first)');
if (!existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM} (set CHROMIUM=...)`);

// ------------------------------------------------------------------ server
let deliver;
const result = new Promise((resolve) => { deliver = resolve; });
const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>crypto-health bench</title>
<body><script type="module" src="/bench/page.js"></script></body>`;
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.json': 'application/json' };

function file(res, base, rel) {
  const f = path.join(base, path.normalize('/' + rel));
  if (!f.startsWith(base + path.sep) || !existsSync(f)) return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': TYPES[path.extname(f)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
  res.end(readFileSync(f));
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  // Cross-origin isolation: performance.now() resolution 5 µs instead of 100 µs.
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  res.setHeader('cross-origin-embedder-policy', 'require-corp');
  if (url.pathname === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  if (url.pathname.startsWith('/pkg/')) return file(res, PKG, url.pathname.slice(5));
  if (url.pathname.startsWith('/bench/')) return file(res, HERE, url.pathname.slice(7));
  if (url.pathname === '/result' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      res.writeHead(204).end();
      try { deliver(JSON.parse(body)); } catch (e) { deliver({ ok: false, error: 'bad result JSON: ' + e.message }); }
    });
    return;
  }
  if (url.pathname === '/progress' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { res.writeHead(204).end(); console.log(`[bench] ${((Date.now() - started) / 1000).toFixed(1)} s: ${body}`); });
    return;
  }
  if (url.pathname.startsWith('/_matrix/client/')) {
    return res.writeHead(200, { 'content-type': 'application/json' }).end('{"next_batch":"s72595_4483"}');
  }
  res.writeHead(404).end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const query = new URLSearchParams();
if (QUICK) query.set('quick', '');
for (const a of process.argv.slice(2)) if (a.startsWith('--page:')) query.set(...a.slice(7).split('='));
// Under Playwright every console call also travels to Node: a 60 s storm would take minutes.
if (PLAYWRIGHT && !query.has('stormSeconds')) query.set('stormSeconds', '5');
const base = `http://127.0.0.1:${server.address().port}/?${query}`;

// ----------------------------------------------------------------- browser
const started = Date.now();
let stopBrowser = async () => {};
let browserVersion = '';
const timer = setTimeout(() => deliver({ ok: false, error: `no result within ${TIMEOUT_MS / 1000} s` }), TIMEOUT_MS);
if (PLAYWRIGHT) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS.filter((a) => a !== '--headless') });
  browserVersion = browser.version();
  const page = await browser.newPage();
  page.on('pageerror', (e) => deliver({ ok: false, error: 'page error: ' + e.message }));
  await page.goto(base);
  stopBrowser = () => browser.close();
} else {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'crypto-health-bench-'));
  const child = spawn(CHROMIUM, [...ARGS, `--user-data-dir=${profile}`, '--remote-debugging-port=0', base], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  child.on('exit', (code) => deliver({ ok: false, error: `chromium exited early (${code}): ${stderr.trim().split('\n').slice(-5).join(' | ')}` }));
  child.on('error', (e) => deliver({ ok: false, error: 'could not start chromium: ' + e.message }));
  const v = spawn(CHROMIUM, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
  v.stdout.on('data', (d) => { browserVersion += d; });
  stopBrowser = async () => {
    child.removeAllListeners('exit');
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(profile, { recursive: true, force: true });
  };
}
const got = await result;
clearTimeout(timer);
await stopBrowser();
server.close();
if (!got.ok) fail(got.error);
const r = got.result;

// ------------------------------------------------------------------ figures
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const gz = (f) => gzipSync(readFileSync(path.join(PKG, f)), { level: zc.Z_BEST_COMPRESSION }).length;
// What an import of the package loads (scripts/build.mjs bundles all JS into index.js).
const bundle = gz('crypto_health_bg.wasm') + gz('index.js');

const nm = r.nonMatching;
const ns = r.nonMatchingStub;
const levels = Object.keys(nm);
const sum = (o, k) => levels.reduce((a, l) => a + o[l][k], 0);
const ratio = (a, b) => (b > 0 ? a / b : null);
// The capture's cost per non-matching call (console stubbed) over the real console's.
const captureShare = ratio(sum(ns, 'oursOverhead'), sum(nm, 'none'));
const figures = {
  // What the app pays per call with the browser's real console: (console +
  // capture) / console. That console's own cost swings from ~15 to ~100 µs a
  // call between rounds of one run, a hundred times what the capture adds, so
  // the ratio of two real-console timings is mostly noise (0.91 and 1.10 in
  // two runs of one build). The capture's part is therefore timed with the
  // console stubbed (paired rounds, precise) and set against the real
  // console's median cost; the direct ratio is printed beside it.
  console_nonmatching_overhead_ratio: captureShare == null ? null : 1 + captureShare,
  // The median of the per-round real-console ratios, both levels pooled (no goal).
  console_nonmatching_direct_ratio: median(levels.flatMap((l) => nm[l].samples.ours.map((x, i) => x / nm[l].samples.none[i]))),
  // Capture cost alone (console stubbed), ours ÷ the plain-JS capture's.
  console_vs_js_reference_ratio: ratio(sum(ns, 'oursOverhead'), sum(ns, 'referenceOverhead')),
  console_nonmatching_us: Object.fromEntries(levels.map((l) => [l, { none: nm[l].none, ours: nm[l].ours, reference: nm[l].reference }])),
  console_capture_nonmatching_us: Object.fromEntries(levels.map((l) => [l, { ours: ns[l].oursOverhead, reference: ns[l].referenceOverhead }])),
  console_matching_us: { none: r.matching.error.none, ours: r.matching.error.ours, reference: r.matching.error.reference },
  console_capture_matching_us: { ours: r.matchingStub.error.oursOverhead, reference: r.matchingStub.error.referenceOverhead },
  console_strings_vs_naive_ratio: ratio(sum(r.stringsStub, 'oursOverhead'), sum(r.stringsStub, 'referenceOverhead')),
  console_mix_vs_naive_ratio: ratio(sum(r.mixStub, 'oursOverhead'), sum(r.mixStub, 'referenceOverhead')),
  console_capture_mix_us: Object.fromEntries(levels.map((l) => [l, { ours: r.mixStub[l].oursOverhead, naive: r.mixStub[l].referenceOverhead }])),
  console_hostile_worst_ms: r.hostile.worstMs,
  console_hostile_worst_arg: r.hostile.worstArg,
  console_hostile_ms: Object.fromEntries(r.hostile.calls.map((c) => [c.name, c.ms])),
  fetch_endless_extra_bytes: r.endless.extraBytes,
  fetch_endless_app_got_all: r.endless.appGotAll,
  fetch_tap_overhead_us: { other: r.fetch.other.overhead, sync: r.fetch.sync.overhead, keys_upload: r.fetch.keysUpload.overhead, keys_upload_repeat: r.fetch.keysUploadRepeat.overhead },
  fetch_us: { other: { none: r.fetch.other.none, ours: r.fetch.other.ours }, keys_upload: { none: r.fetch.keysUpload.none, ours: r.fetch.keysUpload.ours } },
  fetch_loopback_request_us: r.fetch.loopbackRequestUs,
  report_build_ms: r.report.ms,
  report_entries: r.report.entries,
  report_bytes: r.report.bytes,
  storm_heap_growth_bytes: r.storm.growth,
  storm_heap_growth_second_half_bytes: r.storm.growthSecondHalf,
  storm: { lines: r.storm.lines, responses: r.storm.responses, wall_ms: r.storm.wallMs, entries: r.storm.entries, phase: r.storm.phase, precise_heap: r.storm.preciseHeap },
  init_ms: r.init.ms,
  // The same, the fresh document's first module import included (no goal).
  init_cold_ms: r.init.coldMs,
  init_first_ms: r.initFirstMs,
  bundle_gzip_bytes: bundle,
  ...nativeCost(),
};
const goals = GOALS.map((g) => {
  const value = figures[g.key];
  return { ...g, value, met: typeof value === 'number' && Number.isFinite(value) && value <= g.max };
});
const results = {
  generated: new Date().toISOString(),
  mode: PLAYWRIGHT ? 'playwright' : 'direct',
  quick: QUICK,
  browser: browserVersion.trim(),
  node: process.version,
  cpus: os.cpus().length,
  wall_s: (Date.now() - started) / 1000,
  figures,
  goals,
  raw: r,
};
mkdirSync(path.dirname(OUT), { recursive: true });
writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');

// -------------------------------------------------------------------- table
const f2 = (x) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2));
const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
const rows = [
  ['console, non-matching: (console + capture) / console', figures.console_nonmatching_overhead_ratio?.toFixed(3) ?? 'n/a'],
  ['  the same, direct ratio of real-console rounds (noisy)', f2(figures.console_nonmatching_direct_ratio)],
  ...levels.map((l) => [`  console.${l} µs/call  none | ours | plain-JS`, `${f2(nm[l].none)} | ${f2(nm[l].ours)} | ${f2(nm[l].reference)}`]),
  ['console, non-matching: ours vs plain-JS capture cost', f2(figures.console_vs_js_reference_ratio)],
  ...levels.map((l) => [`  capture only, console.${l} µs/call  ours | plain-JS`, `${f2(ns[l].oursOverhead)} | ${f2(ns[l].referenceOverhead)}`]),
  ['console, matching line µs/call  none | ours | plain-JS', `${f2(figures.console_matching_us.none)} | ${f2(figures.console_matching_us.ours)} | ${f2(figures.console_matching_us.reference)}`],
  ['  capture only, matching line µs/call  ours | plain-JS', `${f2(figures.console_capture_matching_us.ours)} | ${f2(figures.console_capture_matching_us.reference)}`],
  ['console, capture vs naive JS: string-only | mix with objects', `${f2(figures.console_strings_vs_naive_ratio)} | ${f2(figures.console_mix_vs_naive_ratio)}`],
  ...levels.map((l) => [`  capture only, mix, console.${l} µs/call  ours | naive`, `${f2(figures.console_capture_mix_us[l].ours)} | ${f2(figures.console_capture_mix_us[l].naive)}`]),
  ['console, worst hostile call ms (argument)', `${f2(figures.console_hostile_worst_ms)} (${figures.console_hostile_worst_arg})`],
  ...r.hostile.calls.map((c) => [`  ${c.name} ms, median of ${r.hostile.rounds} (max)`, `${f2(c.ms)} (${f2(c.max)})`]),
  ['fetch tap, endless 400: bytes held beyond the app | app got all', `${figures.fetch_endless_extra_bytes} | ${figures.fetch_endless_app_got_all}`],
  ['fetch tap overhead µs/request, other endpoint', f2(figures.fetch_tap_overhead_us.other)],
  ['fetch tap overhead µs/request, /sync (answer read and summarised)', f2(figures.fetch_tap_overhead_us.sync)],
  ['fetch tap overhead µs/request, keys/upload (new body)', f2(figures.fetch_tap_overhead_us.keys_upload)],
  ['fetch tap overhead µs/request, keys/upload (same body again)', f2(figures.fetch_tap_overhead_us.keys_upload_repeat)],
  ['  (one loopback request, for scale, µs)', f2(figures.fetch_loopback_request_us)],
  [`report build ms (${figures.report_entries} entries, ${kib(figures.report_bytes)})`, f2(figures.report_build_ms)],
  [`storm memory growth (${figures.storm.lines} lines, ${figures.storm.responses} responses)`, kib(figures.storm_heap_growth_bytes)],
  ['  growth in the storm\'s second half', kib(figures.storm_heap_growth_second_half_bytes)],
  ['init ms, import to ready (median of fresh frames)', f2(figures.init_ms)],
  ['  the same, with the document\'s first module import', f2(figures.init_cold_ms)],
  ['bundle, wasm + JS gzipped', kib(figures.bundle_gzip_bytes)],
];
const w = Math.max(...rows.map((x) => x[0].length));
console.log(`\ncrypto-health bench (${results.mode}${QUICK ? ', quick' : ''}; ${results.browser}; ${results.cpus} CPUs; ${results.wall_s.toFixed(0)} s)`);
for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
console.log('\ngoals:');
for (const g of goals) {
  const v = g.key.endsWith('bytes') ? `${kib(g.value)} (max ${kib(g.max)})` : `${f2(g.value)} (max ${g.max})`;
  console.log(`  ${g.met ? 'MET   ' : 'MISSED'}  ${g.key} = ${v}  — ${g.what}`);
}
if (!r.storm.preciseHeap) console.log('  note: gc() unavailable; heap figures include garbage');
console.log(`\n[bench] wrote ${path.relative(ROOT, OUT)}`);
if (figures.storm_heap_growth_bytes > BROKEN_GROWTH) fail(`memory grew ${kib(figures.storm_heap_growth_bytes)} during the storm: unbounded`);
