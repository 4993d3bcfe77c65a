#!/usr/bin/env node
// After an internal error the package stops, says so, and the page goes on.
// Loads the test build (`node scripts/build.mjs --panic-test` -> target/pkg-panic, the
// release build plus an export that panics inside the state) in Chromium, panics it on
// demand, and checks: the panic message reaches the page's console once (through the
// original console, not our capture), console calls still reach the original exactly
// once, fetch still answers, the API still answers without throwing, and the report
// says capture stopped after an internal error.
//
//   node scripts/build.mjs --panic-test && node tests/smoke/panic-smoke.mjs
//
// Prints `N passed, M failed`; exits non-zero on any failure.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../lib/chromium.mjs';
import { createChecks } from '../lib/checks.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURE_DIR = path.join(ROOT, 'tests', 'smoke');
const PKG_DIR = path.resolve(ROOT, process.env.CRYPTO_HEALTH_PANIC_PKG_DIR ?? 'target/pkg-panic');

const KE1_LINE =
  'Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. ' +
  'Old key: {"key":"A","signatures":{}}; new key: {\'key\': \'B\', \'signatures\': {}} (http://localhost:8008/_matrix/client/v3/keys/upload)';

const { check, finish } = createChecks();

async function main() {
  let server;
  let browser;
  try {
    if (!check('target/pkg-panic has been built (node scripts/build.mjs --panic-test)', existsSync(path.join(PKG_DIR, 'index.js')))) return;
    server = await startServer({ root: FIXTURE_DIR, pkgDir: PKG_DIR, port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const consoleLines = [];
    const pageErrors = [];
    page.on('console', (msg) => consoleLines.push({ type: msg.type(), text: msg.text() }));
    page.on('pageerror', (err) => pageErrors.push(String(err?.stack ?? err)));
    await page.goto(`${server.url}index.html`, { waitUntil: 'load' });
    const imported = await page.evaluate(() => window.__smoke.then(() => true, (e) => String(e)));
    if (!check('import the panic-test build', imported === true, imported)) return;

    const r = await page.evaluate(async (KE1_LINE) => {
      const m = window.__cryptoHealth;
      const out = {};
      await m.loadCryptoHealth();
      out.installed = m.installCryptoDiagLog();
      out.httpTap = m.installHttpTap();
      console.warn(KE1_LINE);
      out.entriesBefore = m.getCryptoDiagEntries().length;
      try {
        m.__panicForTest();
        out.panicThrew = false;
      } catch (e) {
        out.panicThrew = true;
        out.panicError = String(e);
      }
      // The page goes on: its console, its fetch, our API.
      console.warn('after the panic: ' + KE1_LINE);
      const resp = await fetch('/index.html');
      out.fetchStatus = resp.status;
      out.fetchBody = (await resp.text()).includes('crypto-health release smoke test');
      const call = (name, ...args) => {
        try {
          return { ok: true, v: m[name](...args) };
        } catch (e) {
          return { ok: false, e: String(e) };
        }
      };
      out.entriesAfter = call('getCryptoDiagEntries');
      out.health = call('otkHealth');
      out.report = call('buildCryptoDiagReport', null, { appVersion: 'panic-smoke' });
      return out;
    }, KE1_LINE);

    check('capture and the fetch tap were installed', r.installed === true && r.httpTap === true, JSON.stringify(r));
    check('the KE-1 line was captured before the panic', r.entriesBefore === 1, String(r.entriesBefore));
    check('__panicForTest() trapped (the wasm panicked)', r.panicThrew === true, r.panicError);
    const panicLines = consoleLines.filter((l) => l.text.includes('panic requested by a test build'));
    check('the panic message reached the original console once', panicLines.length === 1, JSON.stringify(panicLines));
    const warned = consoleLines.filter((l) => l.type === 'warning' && l.text.startsWith('after the panic: '));
    check('a console call after the panic reaches the original exactly once', warned.length === 1, String(warned.length));
    check('fetch still answers after the panic', r.fetchStatus === 200 && r.fetchBody === true, JSON.stringify(r.fetchStatus));
    check('getCryptoDiagEntries() still answers (an array, nothing new captured)', r.entriesAfter.ok && Array.isArray(r.entriesAfter.v) && r.entriesAfter.v.length === 0, JSON.stringify(r.entriesAfter));
    check('otkHealth() still answers', r.health.ok && r.health.v !== null && typeof r.health.v === 'object', JSON.stringify(r.health).slice(0, 200));
    let report = null;
    try {
      report = r.report.ok ? JSON.parse(r.report.v) : null;
    } catch {
      report = null;
    }
    check('buildCryptoDiagReport() still returns JSON', report !== null, JSON.stringify(r.report).slice(0, 300));
    const stopped = report?.capture?.stoppedAfterError ?? '';
    check('the report says capture stopped after an internal error', typeof stopped === 'string' && stopped.includes('panic requested by a test build'), stopped);
    check('no uncaught page error', pageErrors.length === 0, pageErrors.join('\n'));
  } finally {
    await browser?.close();
    await server?.close();
  }
}

await main().catch((e) => check('harness', false, String(e?.stack ?? e)));
finish();
