#!/usr/bin/env node
// Release-build smoke test: loads the optimised pkg/ (after `npm run build`) in Debian's
// Chromium and exercises it end to end. The wasm-opt trap (Debian's wasm-opt 108 drops the externref table export) only shows at
// run time, so this is the test that catches a broken release build.
//
//   node tests/smoke/release-smoke.mjs
//
// Env: CHROMIUM (default /usr/bin/chromium), CRYPTO_HEALTH_PKG_DIR (default pkg).
// Prints `N passed, M failed`; exits non-zero on any failure.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../lib/chromium.mjs';
import { createChecks } from '../lib/checks.mjs';
import { reportValidator } from '../lib/report-schema.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURE_DIR = path.join(ROOT, 'tests', 'smoke');
const PKG_DIR = path.resolve(ROOT, process.env.CRYPTO_HEALTH_PKG_DIR ?? 'pkg');
const SCHEMA_FILE = path.join(ROOT, 'schema', 'report.schema.json');

// A real KE-1 line (element-hq/synapse synapse/handlers/e2e_keys.py): Synapse's 400 for a re-uploaded one-time key.
const KE1_LINE =
  'Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. ' +
  'Old key: {"key":"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4","signatures":{"@a:localhost":{"ed25519:DEV":"sig1"}}}; ' +
  "new key: {'key': 'bbbbKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4', 'signatures': {'@a:localhost': {'ed25519:DEV': 'sig2'}}} " +
  '(http://localhost:8008/_matrix/client/v3/keys/upload)';
// Logged with console.error on purpose: the only console error the page may show.
const OTHER_LINE = 'smoke: an ordinary error line that matches no known crypto failure';
const AFTER_UNINSTALL_LINE = 'smoke: logged after uninstallCryptoDiagLog()';

const { check, failures, finish } = createChecks();
const show = (v) => {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
};

async function main() {
  const consoleLines = []; // every console message of the page, in order
  const pageErrors = [];
  const requested = [];
  let report = null;
  let reportText = null;
  let server;
  let browser;

  try {
    const missing = ['index.js', 'crypto_health_bg.wasm'].filter((f) => !existsSync(path.join(PKG_DIR, f)));
    if (!check('pkg/ has been built (npm run build)', missing.length === 0, `missing in ${path.relative(ROOT, PKG_DIR)}/: ${missing.join(', ')}`)) {
      return;
    }
    const entry = 'index.js';

    server = await startServer({ root: FIXTURE_DIR, pkgDir: PKG_DIR, port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    page.on('console', (msg) => consoleLines.push({ type: msg.type(), text: msg.text() }));
    page.on('pageerror', (err) => pageErrors.push(String(err?.stack ?? err)));
    page.on('request', (req) => requested.push(req.url()));
    page.on('requestfailed', (req) => pageErrors.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
    page.on('response', (res) => {
      if (res.status() >= 400) pageErrors.push(`HTTP ${res.status()} for ${res.url()}`);
    });

    await page.goto(`${server.url}index.html`, { waitUntil: 'load' });
    const imported = await page.evaluate(() => window.__smoke.then((e) => ({ ok: true, e }), (e) => ({ ok: false, e: String(e) })));
    if (!check(`import /pkg/${entry}`, imported.ok, imported.e)) return;

    // Everything in the page happens in one go, so that the console lines we count are
    // exactly the ones logged between install and uninstall.
    const r = await page.evaluate(
      async ({ KE1_LINE, OTHER_LINE, AFTER_UNINSTALL_LINE }) => {
        const m = window.__cryptoHealth;
        const out = { steps: [] };
        const step = async (name, fn) => {
          try {
            const value = await fn();
            out.steps.push({ name, ok: true });
            return value;
          } catch (e) {
            out.steps.push({ name, ok: false, error: String(e?.stack ?? e) });
            throw e;
          }
        };
        try {
          out.exports = Object.keys(m).sort();
          // The package entry (index.js) exports a shared-promise loader; the raw
          // wasm-bindgen glue exports its init function as the default export.
          if (typeof m.loadCryptoHealth === 'function') {
            const [a, b] = await step('loadCryptoHealth() x2 (shared init)', () => {
              const p1 = m.loadCryptoHealth();
              const p2 = m.loadCryptoHealth();
              return Promise.all([p1, p2]).then(([x, y]) => [p1 === p2, x === y]);
            });
            out.sharedInit = a && b;
          } else {
            await step('init()', () => m.default());
          }
          out.version = await step('version()', () => m.version());
          await step('installCryptoDiagLog()', () => m.installCryptoDiagLog());
          console.warn(KE1_LINE);
          console.error(OTHER_LINE);
          let entries = await step('getCryptoDiagEntries()', () => m.getCryptoDiagEntries());
          if (typeof entries === 'string') entries = JSON.parse(entries);
          out.entriesIsArray = Array.isArray(entries);
          out.entries = JSON.parse(JSON.stringify(Array.from(entries ?? [])));
          out.entryFieldsIsMap = entries?.[0]?.fields instanceof Map;
          const classified = await step('classifyMessage(KE-1 line)', () => m.classifyMessage(KE1_LINE));
          out.classified = classified == null ? classified : JSON.parse(JSON.stringify(classified));
          out.classifiedOther = await step('classifyMessage(other line)', () => m.classifyMessage(OTHER_LINE));
          out.reportText = await step('buildCryptoDiagReport()', () => m.buildCryptoDiagReport());
          if (typeof m.requestPersistentStorage === 'function') {
            out.storage = await step('requestPersistentStorage() resolves', () => m.requestPersistentStorage());
          }
          if (typeof m.checkCryptoStoreConsistency === 'function') {
            out.consistency = await step('checkCryptoStoreConsistency() resolves', () => m.checkCryptoStoreConsistency());
          }
          await step('uninstallCryptoDiagLog()', () => m.uninstallCryptoDiagLog());
          console.warn(AFTER_UNINSTALL_LINE);
        } catch (e) {
          out.error = String(e?.stack ?? e);
        }
        return out;
      },
      { KE1_LINE, OTHER_LINE, AFTER_UNINSTALL_LINE },
    );
    // Let queued console events arrive.
    await page.evaluate(() => new Promise((res) => setTimeout(res, 50)));

    // The tab guard is part of the wasm: no extra file, and its locks are really held and freed.
    const g = await page.evaluate(async () => {
      const m = window.__cryptoHealth;
      const opts = { userId: '@smoke:hs', deviceId: 'SMOKE' };
      const rejection = (p) => p.then((v) => `resolved ${v}`, (e) => (e instanceof Error ? e.message : `non-Error ${e}`));
      const held = async () => (await navigator.locks.query()).held.map((l) => l.name).filter((n) => n.startsWith('crypto-health:tab-guard:')).sort();
      try {
        const early = await rejection(m.takeOverTabGuard());
        // Released before the lock was granted: that acquire must not keep the lock.
        const first = m.acquireTabGuard(opts);
        const released = m.releaseTabGuard();
        const firstRole = await first;
        const releasedRole = m.getTabGuardState().role;
        await new Promise((r) => setTimeout(r, 50));
        const heldAfterEarlyRelease = await held();
        const role = await m.acquireTabGuard(opts);
        const state = m.getTabGuardState();
        const heldWhilePrimary = await held();
        const releasedAgain = m.releaseTabGuard();
        await new Promise((r) => setTimeout(r, 50));
        const heldAfterRelease = await held();
        const badOptions = await rejection(m.acquireTabGuard({ userId: 42 }));
        return {
          early, released, firstRole, releasedRole, heldAfterEarlyRelease, role, mechanism: state.mechanism, held: state.role,
          lockName: state.lockName, origin: location.origin, heldWhilePrimary, releasedAgain, heldAfterRelease, badOptions,
        };
      } catch (e) {
        return { error: String(e && e.stack ? e.stack : e) };
      }
    });
    check('takeOverTabGuard before any acquire rejects with an Error', g.early === 'takeOverTabGuard: call acquireTabGuard first', show(g));
    check('acquireTabGuard with bad options rejects with an Error naming the option', g.badOptions === 'acquireTabGuard: userId must be a string', show(g));
    check('acquire + release at once (before the lock is granted): release true, acquire resolves secondary, state released, no lock kept',
      g.released === true && g.firstRole === 'secondary' && g.releasedRole === 'released' && g.heldAfterEarlyRelease?.length === 0, show(g));
    const prefix = `crypto-health:tab-guard:${g.origin}`;
    check('the next acquire takes the Web Locks (primary: the origin lock and the user/device lock), release frees them',
      g.role === 'primary' && g.mechanism === 'web-locks' && g.held === 'primary' && g.releasedAgain === true &&
        g.lockName === `${prefix}|@smoke:hs|SMOKE` && show(g.heldWhilePrimary) === show([`${prefix}||`, g.lockName].sort()) &&
        g.heldAfterRelease?.length === 0, show(g));
    const otherJs = requested.filter((u) => /\/pkg\/.*\.js(\?|$)/.test(u) && !/\/pkg\/index\.js(\?|$)/.test(u));
    check('the package loads no JS file besides pkg/index.js (the guard lives in the wasm)', otherJs.length === 0, show(otherJs));

    for (const s of r.steps) check(`page: ${s.name}`, s.ok, s.error);
    if (r.error && !r.steps.some((s) => !s.ok)) check('page script', false, r.error);
    console.log(`info: pkg exports: ${(r.exports ?? []).join(', ')}`);
    console.log(`info: version(): ${show(r.version)}`);

    if (r.sharedInit !== undefined) check('loadCryptoHealth() hands every caller the same promise and module', r.sharedInit);
    if ('storage' in r) console.log(`info: requestPersistentStorage(): ${show(r.storage)}`);
    if ('consistency' in r) console.log(`info: checkCryptoStoreConsistency(): ${show(r.consistency)}`);
    check('version() is a non-empty string', typeof r.version === 'string' && r.version.length > 0, show(r.version));

    // The wrapped console still reaches the original exactly once per call.
    const count = (type, text) => consoleLines.filter((l) => l.type === type && l.text === text).length;
    const nKe1 = count('warning', KE1_LINE);
    const nOther = count('error', OTHER_LINE);
    const nAfter = count('warning', AFTER_UNINSTALL_LINE);
    check('original console.warn received the KE-1 line exactly once', nKe1 === 1, `${nKe1} times`);
    check('original console.error received the other line exactly once', nOther === 1, `${nOther} times`);
    check('console.warn after uninstall reaches the console exactly once', nAfter === 1, `${nAfter} times`);

    if (r.entries !== undefined) {
      const entries = r.entries;
      check('getCryptoDiagEntries() is an array', r.entriesIsArray, typeof entries);
      const ke1 = entries.filter((e) => e?.ke === 'KE-1');
      check('exactly 1 diag entry, KE-1', entries.length === 1 && ke1.length === 1, show(entries));
      const f = ke1[0]?.fields;
      check('entry.fields is a plain object (not a Map)', !r.entryFieldsIsMap && f && typeof f === 'object', show(f));
      check("entry.fields.key_id === 'AAAAAAAAAA0'", f?.key_id === 'AAAAAAAAAA0', show(f?.key_id));
      check('entry.fields.counter === 13', f?.counter === 13, show(f?.counter));
      check('entry.fields.diverged === true', f?.diverged === true, show(f?.diverged));
    }
    if (r.classified !== undefined) {
      check("classifyMessage(KE-1 line).ke === 'KE-1'", r.classified?.ke === 'KE-1', show(r.classified));
      check('classifyMessage(other line) is null', r.classifiedOther == null, show(r.classifiedOther));
    }

    if (r.reportText !== undefined) {
      reportText = r.reportText;
      try {
        report = JSON.parse(reportText);
        check('buildCryptoDiagReport() returns JSON', true);
      } catch (e) {
        check('buildCryptoDiagReport() returns JSON', false, `${e}; got ${show(reportText)?.slice(0, 200)}`);
      }
      if (report !== null) {
        if (!existsSync(SCHEMA_FILE)) {
          check('report matches schema/report.schema.json', false, 'schema/report.schema.json missing');
        } else {
          const { ok, errors } = reportValidator()(report);
          check('report matches schema/report.schema.json', ok, errors);
        }
      }
    }

    check('no page errors / failed requests', pageErrors.length === 0, `\n  ${pageErrors.join('\n  ')}`);
    const otherErrors = consoleLines.filter((l) => l.type === 'error' && l.text !== OTHER_LINE);
    check('no console errors besides the deliberate one', otherErrors.length === 0, `\n  ${otherErrors.map((l) => l.text).join('\n  ')}`);
  } catch (e) {
    check('smoke test harness', false, e?.stack ?? String(e));
  } finally {
    if (failures() > 0) {
      console.log('\n--- page console output ---');
      for (const l of consoleLines) console.log(`[${l.type}] ${l.text}`);
      if (pageErrors.length) {
        console.log('--- page errors ---');
        for (const e of pageErrors) console.log(e);
      }
      console.log('--- report ---');
      console.log(report !== null ? JSON.stringify(report, null, 2) : String(reportText));
    }
    await browser?.close().catch(() => {});
    await server?.close().catch(() => {});
  }
}

await main();
finish();
