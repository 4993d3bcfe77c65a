#!/usr/bin/env node
// The fetch tap in headless Chromium against a scripted homeserver on loopback
// (release pkg/ from `npm run build`):
//   transparency  same bytes, status, headers, errors, aborts and streaming with and without the tap
//   detection     a keys/upload 400 storm seen over HTTP with the console silenced
//   breaker       identical uploads answered locally during a storm; other traffic flows
//   reload        the identity-reset early warning across a page reload
//   sync          /sync answers read from clones (v3 and sliding sync), big ones skipped and
//                 counted, the app's bodies intact; keys/upload 2xx counts: the one-time-key flood
//   hostile       an endless streamed 400: the tap reads at most its cap, the app
//                 gets every byte; hostile console arguments: the original console
//                 called exactly once per call, no app code run, capture goes on
//
//   node tests/http/http-tap.mjs          prints `N passed, M failed`, exits non-zero on failure
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../lib/chromium.mjs';
import { createChecks } from '../lib/checks.mjs';
import { reportValidator } from '../lib/report-schema.mjs';
import { syncSummary } from '../../crates/wasm/js/http.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PKG = path.join(ROOT, 'pkg');

// Synapse 1.163's answer to a re-uploaded one-time key (element-hq/synapse synapse/handlers/e2e_keys.py).
const CONFLICT = JSON.stringify({
  errcode: 'M_UNKNOWN',
  error: 'One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4","signatures":{"@alice:localhost":{"ed25519:DEV":"c2lnMQ"}}}; ' +
    "new key: {'key': 'bbbbKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4', 'signatures': {'@alice:localhost': {'ed25519:DEV': 'c2lnMg'}}}",
});

// ---------------------------------------------------------------- scripted server
const hits = new Map(); // path -> count
let uploadMode = 'ok';
let serverKeys = 50; // uploadMode 'grow': the one-time keys the server holds, as a flooding client makes it grow
const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>http tap</title>
<script type="module">
  window.__api = import('/pkg/index.js').then(async (m) => { await m.loadCryptoHealth(); return m; });
</script>`;

function serve(req, res) {
  const url = new URL(req.url, 'http://x');
  hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
  const json = (status, body, extra = {}) => {
    // No content-length: like Synapse, whose JSON answers are streamed (chunked).
    res.writeHead(status, { 'content-type': 'application/json', 'x-test': 'yes', ...extra });
    res.end(body);
  };
  if (url.pathname === '/') return res.writeHead(200, { 'content-type': 'text/html' }), res.end(PAGE);
  if (url.pathname.startsWith('/pkg/')) {
    const f = path.join(PKG, path.normalize(url.pathname.slice(5)));
    if (!f.startsWith(PKG) || !existsSync(f)) return res.writeHead(404), res.end();
    const type = f.endsWith('.wasm') ? 'application/wasm' : f.endsWith('.js') ? 'text/javascript' : 'application/octet-stream';
    return res.writeHead(200, { 'content-type': type }), res.end(readFileSync(f));
  }
  if (url.pathname === '/_matrix/client/v3/keys/upload') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (uploadMode === 'conflict') return json(400, CONFLICT);
      if (uploadMode === 'endless') return endless(res);
      if (uploadMode === 'grow') {
        try { serverKeys += Object.keys(JSON.parse(body).one_time_keys || {}).length; } catch (_) { /* counted as 0 */ }
        return json(200, JSON.stringify({ one_time_key_counts: { signed_curve25519: serverKeys } }));
      }
      json(200, JSON.stringify({ one_time_key_counts: { signed_curve25519: 50 } }));
    });
    return;
  }
  if (url.pathname.startsWith('/_matrix/client/unstable/org.matrix.msc4140/delayed_events/')) {
    // Binary body on a watched endpoint: the clone must not change the app's bytes.
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-test': 'bin' });
    return res.end(bytes);
  }
  if (url.pathname.startsWith('/_matrix/client/v3/sendToDevice/')) {
    // Streamed slowly: the app must see the first chunk long before the end.
    res.writeHead(200, { 'content-type': 'text/plain' });
    let n = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      res.write(`chunk${n}\n`);
      if (++n === 5) { clearInterval(timer); res.end(); }
    }, 150);
    return;
  }
  if (url.pathname === '/_matrix/client/v3/sync') {
    if (url.searchParams.get('big')) {
      // Over the tap's 512 KiB cap, with a declared length or streamed without one.
      const big = JSON.stringify({ next_batch: 'sB', device_one_time_keys_count: { signed_curve25519: 1 }, pad: 'x'.repeat(600 * 1024) });
      const extra = url.searchParams.get('big') === 'declared' ? { 'content-length': String(Buffer.byteLength(big)) } : {};
      return json(200, big, extra);
    }
    if (url.searchParams.get('counts')) return json(200, syncBody(Number(url.searchParams.get('counts'))));
    return json(200, '{"next_batch":"s1"}');
  }
  if (url.pathname === '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync') {
    return json(200, JSON.stringify({ pos: '1', extensions: { e2ee: { device_one_time_keys_count: { signed_curve25519: 77 } }, to_device: { next_batch: 't', events: [] } } }));
  }
  json(404, '{"errcode":"M_UNRECOGNIZED"}');
}

// A v3 /sync answer: the server's one-time-key count and 70 to-device events
// (Olm-encrypted for two keys, one with a message id; a plain one).
function syncBody(count) {
  const events = Array.from({ length: 70 }, (_, i) => (i % 2
    ? { type: 'm.dummy', sender: '@carol:localhost', content: {} }
    : { type: 'm.room.encrypted', sender: '@bob:localhost', content: { algorithm: 'm.olm.v1.curve25519-aes-sha2', sender_key: 'BOBKEY', ciphertext: { CUR: { type: 0, body: 'x'.repeat(900) }, OLD: { type: 0, body: 'y' } }, 'org.matrix.msgid': 'msg' + i } }));
  return JSON.stringify({ next_batch: 's' + count, device_one_time_keys_count: { signed_curve25519: count }, device_unused_fallback_key_types: ['signed_curve25519'], to_device: { events }, rooms: { join: {} } });
}

// A 400 streamed without content-length that never ends by itself: 64 KiB
// chunks as fast as the client pulls them (backpressure honoured), stopped at
// ENDLESS_MAX or when the client goes away. `endlessSent` counts what left.
const ENDLESS_MAX = 256 * 1024 * 1024;
let endlessSent = 0;
function endless(res) {
  res.writeHead(400, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  endlessSent = 0;
  const pump = () => {
    while (!res.destroyed && endlessSent < ENDLESS_MAX) {
      endlessSent += chunk.length;
      if (!res.write(chunk)) return res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}

// ---------------------------------------------------------------------- harness
const { check, finish } = createChecks({ formatDetail: JSON.stringify });

const server = createServer(serve);
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

async function freshPage(session = true) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base + '/');
  if (session) {
    await page.evaluate(() => {
      localStorage.setItem('cinny_user_id', '@alice:localhost');
      localStorage.setItem('cinny_device_id', 'DEV');
      localStorage.setItem('cinny_access_token', 'syt_YWxpY2U_secretsecret_0000');
    });
  }
  await page.evaluate(() => window.__api);
  return { ctx, page, errors };
}

// What the app sees of a set of requests: status, headers, bytes, errors, stream timing.
const probe = () => (async () => {
  const out = {};
  const r1 = await fetch('/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_1/restart', { method: 'POST', body: '{}' });
  const buf = new Uint8Array(await r1.arrayBuffer());
  out.bin = { status: r1.status, statusText: r1.statusText, type: r1.headers.get('content-type'), x: r1.headers.get('x-test'), len: buf.length, sum: buf.reduce((a, b) => (a * 31 + b) >>> 0, 7) };
  const r2 = await fetch(new Request('/_matrix/client/v3/keys/upload', { method: 'POST', body: '{"one_time_keys":{}}' }));
  out.upload = { status: r2.status, body: await r2.text(), x: r2.headers.get('x-test') };
  try { await fetch('http://127.0.0.1:1/_matrix/client/v3/keys/upload', { method: 'POST', body: '{}' }); out.neterr = 'resolved'; } catch (e) { out.neterr = `${e.name}: ${e.message}`; }
  const ac = new AbortController();
  const pa = fetch('/_matrix/client/v3/sendToDevice/m.room.encrypted/t1', { method: 'PUT', body: '{}', signal: ac.signal });
  ac.abort();
  try { await pa; out.abort = 'resolved'; } catch (e) { out.abort = `${e.name}: ${e.message}`; }
  const t0 = performance.now();
  const r3 = await fetch('/_matrix/client/v3/sendToDevice/io.element.call.encryption_keys/t2', { method: 'PUT', body: '{}' });
  const reader = r3.body.getReader();
  const first = await reader.read();
  const tFirst = performance.now() - t0;
  let rest = '';
  for (;;) { const { done, value } = await reader.read(); if (done) break; rest += new TextDecoder().decode(value); }
  out.stream = { first: new TextDecoder().decode(first.value), firstBeforeEnd: tFirst < 450, restChunks: rest.split('\n').filter(Boolean).length };
  // Abort in the middle of a stream.
  const ac2 = new AbortController();
  const r4 = await fetch('/_matrix/client/v3/sendToDevice/x/t3', { method: 'PUT', body: '{}', signal: ac2.signal });
  const rd = r4.body.getReader();
  await rd.read();
  ac2.abort();
  try { for (;;) { const { done } = await rd.read(); if (done) break; } out.midAbort = 'ended'; } catch (e) { out.midAbort = e.name; }
  return out;
})();

try {
  // ------------------------------------------------------------- transparency
  uploadMode = 'ok';
  {
    const { ctx, page, errors } = await freshPage();
    const without = await page.evaluate(probe);
    const identity = await page.evaluate(async () => {
      const m = await window.__api;
      const before = window.fetch;
      const installed = m.installHttpTap();
      const again = m.installHttpTap();
      const p = fetch('/_matrix/client/v3/sync');
      const r = await p;
      return { installed, again, wrapped: window.fetch !== before, ok: r.ok, name: window.fetch.name };
    });
    const withTap = await page.evaluate(probe);
    check('installHttpTap wraps fetch once (idempotent)', identity.installed === true && identity.again === false && identity.wrapped && identity.ok, identity);
    check('same bytes, status and headers on a watched binary response', JSON.stringify(without.bin) === JSON.stringify(withTap.bin) && withTap.bin.len === 4096, { without: without.bin, withTap: withTap.bin });
    check('same upload answer for a Request object body', JSON.stringify(without.upload) === JSON.stringify(withTap.upload), withTap.upload);
    check('same network error', without.neterr === withTap.neterr && withTap.neterr.startsWith('TypeError'), [without.neterr, withTap.neterr]);
    check('same abort error', without.abort === withTap.abort && withTap.abort.startsWith('AbortError'), [without.abort, withTap.abort]);
    check('streaming intact: first chunk before the end, all chunks arrive', withTap.stream.firstBeforeEnd && withTap.stream.first === 'chunk0\n' && withTap.stream.restChunks === 4, withTap.stream);
    check('abort in the middle of a stream behaves the same', without.midAbort === withTap.midAbort && withTap.midAbort === 'AbortError', [without.midAbort, withTap.midAbort]);
    const counted = await page.evaluate(async () => {
      const m = await window.__api;
      await new Promise((r) => setTimeout(r, 200));
      const rep = JSON.parse(m.buildCryptoDiagReport());
      return rep.http;
    });
    check('the tap counted what it saw (network errors, aborts, to-device types)',
      counted.keysUpload.networkErrors === 1 && counted.sendToDevice.aborted >= 1 && counted.sendToDevice.byDetail['io.element.call.encryption_keys'] === 1 && counted.delayedEvents.byDetail.restart === 1 && counted.tapErrors === 0,
      counted);
    const restored = await page.evaluate(async () => {
      const m = await window.__api;
      const wrapped = window.fetch;
      const was = m.uninstallHttpTap();
      return { was, restored: window.fetch !== wrapped };
    });
    check('uninstallHttpTap restores the original fetch', restored.was && restored.restored, restored);
    check('no page errors', errors.length === 0, errors);
    await ctx.close();
  }

  // ------------------------------------------------- detection, console silent
  {
    uploadMode = 'conflict';
    const { ctx, page, errors } = await freshPage();
    const r = await page.evaluate(async (schemaText) => {
      const m = await window.__api;
      // Production Cinny: the SDK logger is off. Silence the console entirely.
      for (const k of ['debug', 'log', 'info', 'warn', 'error']) console[k] = () => {};
      m.installHttpTap();
      const events = [];
      const domEvents = [];
      m.onRecoveryNeeded((e) => events.push(e));
      window.addEventListener('crypto-health:recovery-needed', (e) => domEvents.push(e.detail));
      const body = JSON.stringify({ one_time_keys: { 'signed_curve25519:AAAAAAAAAA0': { key: 'bbbbKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4' } } });
      const statuses = [];
      for (let i = 0; i < 6; i++) {
        const resp = await fetch('/_matrix/client/v3/keys/upload', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        statuses.push(resp.status);
        await resp.text();
      }
      await new Promise((res) => setTimeout(res, 100));
      const late = [];
      m.onRecoveryNeeded((e) => late.push(e));
      await new Promise((res) => setTimeout(res, 50));
      return { statuses, events, domEvents: domEvents.length, late: late.length, health: m.otkHealth(), report: m.buildCryptoDiagReport(), entries: m.getCryptoDiagEntries().length };
    });
    const h = r.health;
    check('the 400 storm is seen over HTTP with the console silent', h.phase === 'storm' && h.outcome === 'diverged' && h.uploads.conflicts === 6, { phase: h.phase, outcome: h.outcome, uploads: h.uploads });
    check('proof: key id, counter 13, old != new', h.proof && h.proof.keyId === 'AAAAAAAAAA0' && h.proof.counter === 13 && h.proof.diverged === true && h.proof.source === 'http', h.proof);
    check('recovery-needed fired exactly once (callback and window event)', r.events.length === 1 && r.domEvents === 1 && r.events[0].recommendation.id === 'relogin_new_device', { events: r.events.length, dom: r.domEvents });
    check('a late subscriber still gets the ongoing storm', r.late === 1, r.late);
    check('trigger assessed from the counter', h.trigger && h.trigger.kind === 'account_recreated' && h.trigger.facts.some((f) => f.includes('counter 13')), h.trigger);
    const report = JSON.parse(r.report);
    const { ok: valid, errors: schemaErrors } = reportValidator()(report);
    check('report validates and carries the storm', valid && report.otkHealth.phase === 'storm' && report.counts['KE-1'].count === 6 && report.http.keysUpload.byStatus['400'] === 6, valid ? report.counts['KE-1'] : schemaErrors);
    check('no secret in the report', !r.report.includes('secretsecret'));
    check('no page errors', errors.length === 0, errors);
    await ctx.close();
  }

  // ------------------------------------------------------------- storm breaker
  {
    uploadMode = 'conflict';
    hits.clear();
    const { ctx, page, errors } = await freshPage();
    const r = await page.evaluate(async () => {
      const m = await window.__api;
      m.installHttpTap({ breakUploadStorm: true });
      const body = JSON.stringify({ one_time_keys: { 'signed_curve25519:AAAAAAAAAA0': { key: 'NEW' } } });
      const answers = [];
      for (let i = 0; i < 23; i++) {
        const resp = await fetch('/_matrix/client/v3/keys/upload', { method: 'POST', body });
        answers.push({ status: resp.status, body: await resp.text(), type: resp.headers.get('content-type') });
        await fetch('/_matrix/client/v3/sync?since=s' + i); // the app's other traffic
      }
      // A changed body always goes through.
      await fetch('/_matrix/client/v3/keys/upload', { method: 'POST', body: JSON.stringify({ one_time_keys: {} }) });
      return { answers, health: m.otkHealth(), http: JSON.parse(m.buildCryptoDiagReport()).http };
    });
    const uploads = hits.get('/_matrix/client/v3/keys/upload');
    const syncs = hits.get('/_matrix/client/v3/sync');
    check('uploads reaching the server stop after the storm starts (3 + 1 changed body)', uploads === 4, { uploads });
    check('the app\'s other requests all flow', syncs === 23, { syncs });
    const same = r.answers.every((a) => a.status === 400 && a.body === CONFLICT && a.type === 'application/json');
    check('local answers are the server\'s 400, byte for byte', same, r.answers.slice(-1));
    check('the report counts requests saved', r.health.breaker.savedRequests === 20 && r.http.keysUpload.answeredLocally === 20 && r.health.uploads.conflicts === 3, { breaker: r.health.breaker, http: r.http.keysUpload.answeredLocally });
    check('no page errors', errors.length === 0, errors);
    await ctx.close();
  }

  // ------------------------------------------------- early warning over reload
  {
    uploadMode = 'ok';
    const { ctx, page, errors } = await freshPage();
    const upload = (ed) => JSON.stringify({
      device_keys: { user_id: '@alice:localhost', device_id: 'DEV', algorithms: [], keys: { 'ed25519:DEV': ed, 'curve25519:DEV': 'c' + ed }, signatures: {} },
      one_time_keys: { 'signed_curve25519:AAAAAAAAAAA': { key: 'k0' } },
    });
    await page.evaluate(async (body) => {
      const m = await window.__api;
      m.installHttpTap();
      await (await fetch('/_matrix/client/v3/keys/upload', { method: 'POST', body })).text();
      await new Promise((r) => setTimeout(r, 50));
    }, upload('IDENTITY_ONE'));
    await page.reload();
    await page.evaluate(() => window.__api);
    uploadMode = 'conflict';
    const r = await page.evaluate(async (body) => {
      const m = await window.__api;
      m.installHttpTap();
      const before = m.otkHealth();
      const p = fetch('/_matrix/client/v3/keys/upload', { method: 'POST', body });
      // Raised when the upload leaves, before any answer.
      const findingsAtSend = m.getCryptoDiagFindings().map((f) => f.id);
      await (await p).text();
      await new Promise((res) => setTimeout(res, 50)); // the tap reads its clone after the app
      return { before: before.identity, findingsAtSend, after: m.otkHealth() };
    }, upload('IDENTITY_TWO'));
    check('identity remembered across the reload', r.before.known === 'IDENTITY_ONE', r.before);
    check('identity reset raised at the first upload, before the 400', r.findingsAtSend.includes('device_identity_replaced'), r.findingsAtSend);
    check('outcome unrecoverable, trigger account_recreated', r.after.outcome === 'unrecoverable' && r.after.trigger && r.after.trigger.kind === 'account_recreated', { outcome: r.after.outcome, trigger: r.after.trigger });
    check('no page errors', errors.length === 0, errors);
    await ctx.close();
  }

  // ------------------------------------------------------- hostile: fetch
  {
    uploadMode = 'endless';
    const { ctx, page, errors } = await freshPage(false);
    // What the server has sent so far, read from the page at the end of its idle wait.
    await page.exposeFunction('__endlessSent', () => endlessSent);
    const r = await page.evaluate(async () => {
      const m = await window.__api;
      m.installHttpTap();
      const resp = await fetch('/_matrix/client/v3/keys/upload', { method: 'POST', body: '{"one_time_keys":{}}' });
      // The app does not read for a while: the tap alone must not drain the stream.
      await new Promise((res) => setTimeout(res, 1500));
      const sentWhileIdle = await window.__endlessSent();
      const reader = resp.body.getReader();
      let got = 0;
      let bad = 0;
      while (got < 8 * 1024 * 1024) {
        const { done, value } = await reader.read();
        if (done) break;
        got += value.byteLength;
        if (value[0] !== 0x61 || value[value.length - 1] !== 0x61) bad++;
      }
      await reader.cancel();
      await new Promise((res) => setTimeout(res, 100));
      const first = JSON.parse(m.buildCryptoDiagReport()).http;
      // A second endless body of unknown length: after the first overran the cap,
      // the tap no longer clones such bodies; the app still gets its bytes.
      const again = await fetch('/_matrix/client/v3/keys/upload', { method: 'POST', body: '{"one_time_keys":{}}' });
      const r2 = again.body.getReader();
      let got2 = 0;
      while (got2 < 1024 * 1024) {
        const { done, value } = await r2.read();
        if (done) break;
        got2 += value.byteLength;
      }
      await r2.cancel();
      await new Promise((res) => setTimeout(res, 100));
      const report = JSON.parse(m.buildCryptoDiagReport());
      return {
        status: resp.status, got, bad, byStatus: first.keysUpload.byStatus, sentWhileIdle, notRead: first.bodiesNotRead,
        got2, notRead2: report.http.bodiesNotRead, byStatus2: report.http.keysUpload.byStatus,
      };
    });
    // Measured before the app reads: afterwards the server goes on until the
    // connection closes, which is the browser's business, not the tap's.
    const { sentWhileIdle } = r;
    check('endless 400: the app reads every byte it asks for (8 MiB)', r.status === 400 && r.got >= 8 * 1024 * 1024 && r.bad === 0, r);
    check('endless 400: the exchange is counted, its body skipped as too big', r.byStatus['400'] === 1, r.byStatus);
    check('endless 400: the body that overran the cap is counted as not read (http.bodiesNotRead)', r.notRead === 1, r.notRead);
    check('a second endless 400 of unknown length: the app reads its bytes, the tap leaves it unread',
      r.got2 >= 1024 * 1024 && r.notRead2 === 2 && r.byStatus2['400'] === 2, { got2: r.got2, notRead2: r.notRead2, byStatus2: r.byStatus2 });
    // What the server sent while the app was idle is Chromium's own read-ahead, not the
    // tap's: without the tap it measured 70 MB here, on a loaded machine more. It is
    // printed, not checked; that the tap stops at its cap is the check above (the body
    // was skipped as too big, so the tap's read ended there), and the tap's extra memory
    // on this body is the bench's fetch_endless_extra_bytes.
    console.log(`info: endless 400: the server sent ${sentWhileIdle} B while the app was idle (the browser's read-ahead)`);
    check('no page errors', errors.length === 0, errors);
    await ctx.close();
    uploadMode = 'ok';
  }

  // ----------------------------------------------------- hostile: console
  {
    const { ctx, page, errors } = await freshPage(false);
    const r = await page.evaluate(async (conflict) => {
      const m = await window.__api;
      const calls = [];
      console.warn = function (...args) { calls.push({ self: this, n: args.length }); };
      m.installCryptoDiagLog({ windowEvents: false });
      const ran = [];
      const getter = {};
      Object.defineProperty(getter, 'error', { get() { ran.push('getter'); return 'x'; }, enumerable: true });
      const tj = { toJSON() { ran.push('toJSON'); return {}; }, toString() { ran.push('toString'); return ''; } };
      const px = new Proxy({}, {
        get() { ran.push('proxy get'); }, ownKeys() { ran.push('proxy ownKeys'); return []; },
        getPrototypeOf() { ran.push('proxy getPrototypeOf'); return null; }, has() { ran.push('proxy has'); return false; },
      });
      const throwing = new Proxy({}, { getOwnPropertyDescriptor() { throw new Error('trap'); } });
      const big = {};
      for (let i = 0; i < 1e6; i++) big['k' + i] = i;
      const err = new Error('boom');
      Object.defineProperty(err, 'name', { get() { ran.push('error name getter'); return 'E'; } });
      const deep = {};
      let d = deep;
      for (let i = 0; i < 1e5; i++) { d.data = {}; d = d.data; }
      const arr = new Array(1e7);
      const hostile = [getter, tj, px, throwing, big, new Uint8Array(1e7), new ArrayBuffer(1e7), err, deep, arr, 'x'.repeat(1 << 24), Symbol('s'), 10n, null, undefined];
      const self = { me: 1 };
      let worstMs = 0;
      for (const a of hostile) {
        const t = performance.now();
        console.warn.call(self, 'probe', a);
        worstMs = Math.max(worstMs, performance.now() - t);
      }
      // A KE-1 line carried only by an Error argument, then only by a Synapse body.
      const me = new Error('M_UNKNOWN: MatrixError: [400] ' + conflict.error);
      me.name = 'MatrixError';
      console.warn.call(self, 'Failed to process outgoing request 0:', me);
      console.warn.call(self, 'upload failed', { errcode: conflict.errcode, error: conflict.error.replace('AAAAAAAAAA0', 'AAAAAAAAAA1') });
      const entries = m.getCryptoDiagEntries();
      // Strings past the read bound (128 Ki chars) are not read, even when they
      // start with a signature (a rope, as padEnd builds, and a flat string);
      // one just under the bound is read and classified.
      const before = entries.length;
      console.warn.call(self, 'rope', ('M_UNKNOWN: ' + conflict.error.replace('AAAAAAAAAA0', 'AAAAAAAAAA2')).padEnd(1 << 24, 'x'));
      console.warn.call(self, 'in an array', [('M_UNKNOWN: ' + conflict.error.replace('AAAAAAAAAA0', 'AAAAAAAAAA3')).padEnd(1 << 24, 'x')]);
      console.warn.call(self, 'near the bound', ('M_UNKNOWN: ' + conflict.error.replace('AAAAAAAAAA0', 'AAAAAAAAAA4')).padEnd(120 * 1024, ' '));
      const after = m.getCryptoDiagEntries().slice(before).map((e) => e.fields && e.fields.key_id);
      const capture = JSON.parse(m.buildCryptoDiagReport()).capture;
      m.uninstallCryptoDiagLog();
      return {
        calls: calls.length - 3, selfOk: calls.every((c) => c.self === self), argsOk: calls.every((c) => c.n === 2),
        expected: hostile.length + 2, ran, worstMs, ke1: entries.filter((e) => e.ke === 'KE-1').length,
        after, argsNotRead: capture.argsNotRead,
      };
    }, JSON.parse(CONFLICT));
    check('hostile console arguments: the original is called exactly once per call, with its this and arguments',
      r.calls === r.expected && r.selfOk && r.argsOk, r);
    check('hostile console arguments: no app code runs (getters, toJSON, toString, Proxy get/ownKeys/getPrototypeOf/has)', r.ran.length === 0, r.ran);
    check('a KE-1 line in an Error argument and in a Synapse body object is captured, after a throwing trap', r.ke1 === 2, r);
    check('strings over the read bound are not read and are counted (report capture.argsNotRead); one under it is captured',
      r.argsNotRead === 3 && r.after.length === 1 && r.after[0] === 'AAAAAAAAAA4', { argsNotRead: r.argsNotRead, after: r.after });
    console.log(`     (worst hostile console call in this run: ${r.worstMs.toFixed(2)} ms; the goal is measured in tests/bench)`);
    check('no page errors', errors.length === 0, errors);
    await ctx.close();
  }

  // ------------------------------------------------------------ /sync and the flood
  {
    // The summary the tap hands the core, from the browser-free module.
    const sum = syncSummary(syncBody(60)).split('\n');
    const evs = sum.filter((l) => l.startsWith('ev '));
    check('sync summary: counts, 64 of 70 to-device events with sender key, message id and recipients',
      sum[0] === 'otk signed_curve25519=60' && sum[1] === 'total 70' && evs.length === 64 &&
      evs[0] === 'ev m.room.encrypted\t@bob:localhost\tm.olm.v1.curve25519-aes-sha2\tBOBKEY\tmsg0\tCUR OLD' &&
      evs[1] === 'ev m.dummy\t@carol:localhost\t\t\t\t' && !sum.join().includes('xxxx'), sum.slice(0, 5));
    check('sync summary: not JSON or not an object is null; no counts field, no otk line (not zero); whitespace cannot forge a line',
      syncSummary('nope') === null && syncSummary('7') === null && syncSummary('{}') === 'total 0\n' &&
      syncSummary(JSON.stringify({ to_device: { events: [{ type: 'a\notk x=1', sender: 's t' }] } })) === 'total 1\nev aotkx=1\tst\t\t\t\t\n',
      syncSummary(JSON.stringify({ to_device: { events: [{ type: 'a\notk x=1', sender: 's t' }] } })));

    uploadMode = 'grow';
    serverKeys = 50;
    const { ctx, page, errors } = await freshPage();
    const r = await page.evaluate(async () => {
      const m = await window.__api;
      m.installHttpTap();
      const app = {};
      // The app reads every answer itself: the tap's reading must not change a byte.
      app.big = await Promise.all(['declared', 'streamed'].map((k) => fetch('/_matrix/client/v3/sync?big=' + k).then((r) => r.text()).then((t) => t.length)));
      const sliding = await fetch('/_matrix/client/unstable/org.matrix.simplified_msc3575/sync?pos=0', { method: 'POST', body: '{}' }).then((r) => r.json());
      app.sliding = sliding.extensions.e2ee.device_one_time_keys_count.signed_curve25519;
      await new Promise((res) => setTimeout(res, 50));
      app.slidingCount = m.otkHealth().flood && m.otkHealth().flood.lastSyncCount;
      // A flooding client: every sync reports the target or more, and a new batch of 50 still goes up.
      let counts = 50;
      const batch = (round) => JSON.stringify({ one_time_keys: Object.fromEntries(Array.from({ length: 50 }, (_, i) => ['signed_curve25519:R' + round + 'K' + i, { key: 'k' + i }])) });
      app.syncEvents = [];
      for (let round = 0; round < 3; round++) {
        const s = await fetch('/_matrix/client/v3/sync?counts=' + counts + '&since=s' + round).then((r) => r.json());
        app.syncEvents.push(s.to_device.events.length);
        await new Promise((res) => setTimeout(res, 20)); // the tap reads its clone after the app
        const up = await fetch('/_matrix/client/v3/keys/upload', { method: 'POST', body: batch(round) }).then((r) => r.json());
        counts = up.one_time_key_counts.signed_curve25519;
      }
      await new Promise((res) => setTimeout(res, 50));
      return { app, health: m.otkHealth(), report: JSON.parse(m.buildCryptoDiagReport()) };
    });
    const f = r.health.flood;
    check('the app gets its /sync bodies whole (big ones too) and sliding sync counts are read',
      r.app.big[0] > 600 * 1024 && r.app.big[1] === r.app.big[0] && r.app.sliding === 77 && r.app.slidingCount === 77 && r.app.syncEvents.every((n) => n === 70), r.app);
    check('/sync answers over 512 KiB are skipped and counted, declared or streamed',
      r.report.http.syncBodiesNotRead === 2 && r.report.http.sync.requests === 6 && r.report.http.bodiesNotRead === 0, r.report.http);
    check('flood over HTTP: 3 accepted batches while /sync reported >= 50, server count 50 -> 200',
      f && f.excessUploads === 3 && f.excessKeys === 150 && f.firstServerCount === 100 && f.maxServerCount === 200 && f.lastSyncCount === 150 && r.health.outcome === 'flooding', f);
    const finding = r.report.findings.find((x) => x.id === 'otk_flood');
    check('one otk_flood finding (no KE class, not the KE-1 remedy), schema-valid report',
      finding && finding.ke === null && finding.detail.includes('42.4.0') && !r.report.findings.some((x) => x.ke === 'KE-1') && r.health.recommendation === null && reportValidator()(r.report).ok,
      finding);
    check('no page errors', errors.length === 0, errors);
    await ctx.close();
  }

  // ------------------------------------------------------------ bad input
  {
    uploadMode = 'ok';
    const { ctx, page, errors } = await freshPage(false);
    const r = await page.evaluate(async () => {
      const m = await window.__api;
      const out = {};
      try { m.installHttpTap('yes'); out.badOpts = 'accepted'; } catch (e) { out.badOpts = e instanceof Error ? 'Error' : typeof e; }
      try { m.onRecoveryNeeded(42); out.badCb = 'accepted'; } catch (e) { out.badCb = e instanceof Error ? 'Error' : typeof e; }
      m.installHttpTap();
      // Odd inputs never break the app's fetch.
      const odd = [];
      for (const body of ['not json', '', '{"one_time_keys": 5}', 'x'.repeat(300000)]) {
        const r = await fetch('/_matrix/client/v3/keys/upload', { method: 'POST', body });
        odd.push(r.status);
      }
      const weird = await fetch({ toString() { return '/_matrix/client/v3/sync'; } }).then((r) => r.status, (e) => e.name);
      out.odd = odd;
      out.weird = weird;
      out.health = m.otkHealth().outcome;
      return out;
    });
    check('bad options and callbacks are real Errors', r.badOpts === 'Error' && r.badCb === 'Error', r);
    check('malformed and huge bodies pass through untouched', r.odd.every((s) => s === 200) && r.weird === 200 && r.health === 'healthy', r);
    check('no page errors', errors.length === 0, errors);
    await ctx.close();
  }
} catch (e) {
  check(`harness: ${e && e.stack ? e.stack : e}`, false);
} finally {
  await browser.close();
  server.close();
}
finish();
process.exit(process.exitCode);
