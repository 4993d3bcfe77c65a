#!/usr/bin/env node
// Cinny integration kit test: the demo page www/ built as a Cinny fork builds
// (Vite 5.4 + @rollup/plugin-wasm + vite-plugin-top-level-await, the package
// installed from its `npm pack` tarball), then driven in Debian's Chromium.
//
//   node tests/kit/kit-build.mjs        (after `npm run build`: needs pkg/)
//
// 1. install the package from its `npm pack` tarball, then type-check the kit and the
//    demo with Cinny's compiler options (tsconfig.kit.json);
// 2. `vite build` www/ (production) and check the wasm went through the bundler;
// 3. load it: no console errors, the card renders (screenshots in target/kit/);
// 4. Download report: the saved file is valid against schema/report.schema.json;
// 5. demo replay: counts move; a KE-1 storm raises the recovery prompt;
// 6. tab guard (builds that have it): a second tab shows the notice, "Use here" takes over;
// 7. the Vite dev server (optimizeDeps.exclude) serves a working page too, and
//    without the exclude it does not (negative control).
// Prints `N passed, M failed`; exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { DIST_DIR, buildWww, installPackage } from '../../scripts/www.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../lib/chromium.mjs';
import { createChecks } from '../lib/checks.mjs';
import { reportValidator } from '../lib/report-schema.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = path.join(ROOT, 'target', 'kit');
// The KE-1 line the demo's storm button logs with console.error (www/src/samples.ts).
const KE1_PREFIX = 'Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists.';

const { check, failures, finish } = createChecks();
const info = (msg) => console.log(`info: ${msg}`);
const show = (v) => {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
};

// Polls `probe` until `ok(value)` or the timeout; returns the last value. The page
// updates on React renders and a 1 s poll, so state checks wait instead of racing.
async function until(probe, ok, timeoutMs = 8000) {
  const end = Date.now() + timeoutMs;
  let value = await probe();
  while (!ok(value) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    value = await probe();
  }
  return value;
}

// Watches one page: console errors, page errors, failed requests, HTTP >= 400.
function watch(page, label) {
  const problems = [];
  const allowed = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (allowed.some((a) => text.startsWith(a))) return;
    problems.push(`${label} console.error: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`${label} page error: ${err?.stack ?? err}`));
  page.on('requestfailed', (req) => problems.push(`${label} request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`${label} HTTP ${res.status()} for ${res.url()}`);
  });
  return { problems, allow: (prefix) => allowed.push(prefix) };
}

async function downloadReport(page, button, file, validate, label) {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), page.click(button)]);
  const name = download.suggestedFilename();
  await download.saveAs(file);
  check(`${label}: download is named lotus-crypto-diag-<UTC>.json`, /^lotus-crypto-diag-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.json$/.test(name), name);
  let report = null;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    check(`${label}: downloaded file is JSON`, false, String(e));
    return null;
  }
  const v = validate(report);
  check(`${label}: downloaded report matches schema/report.schema.json`, v.ok, v.errors);
  info(`${label}: saved ${path.relative(ROOT, file)} (${readFileSync(file).length} bytes)`);
  return report;
}

async function typecheck() {
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  const r = spawnSync(tsc, ['-p', 'tsconfig.kit.json'], { cwd: ROOT, encoding: 'utf8' });
  check("kit + demo type-check with Cinny's compiler options (tsc -p tsconfig.kit.json)", r.status === 0, `${r.stdout}${r.stderr}`);
}

async function buildStep() {
  const t0 = Date.now();
  await buildWww();
  info(`vite build of www/ took ${Date.now() - t0} ms`);
  const assets = readdirSync(path.join(DIST_DIR, 'assets'));
  const wasm = assets.filter((f) => f.endsWith('.wasm'));
  check('vite build emitted the package wasm as a hashed asset', wasm.length === 1 && /^crypto_health_bg-.+\.wasm$/.test(wasm[0]), show(assets));
  const js = assets.filter((f) => f.endsWith('.js'));
  const bundle = js.map((f) => readFileSync(path.join(DIST_DIR, 'assets', f), 'utf8')).join('\n');
  check('the bundle resolves the wasm through the bundler (no /pkg/ paths)', wasm.length === 1 && bundle.includes(wasm[0]) && !bundle.includes('/pkg/'));
}

async function prodPage(browser, validate) {
  const server = await startServer({ root: DIST_DIR, port: 0 });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 1400 } });
  try {
    const page = await context.newPage();
    const w = watch(page, 'tab 1');
    const t0 = Date.now();
    await page.goto(server.url, { waitUntil: 'load' });
    const card = page.locator('[data-testid=crypto-diagnostics-card][data-state=ready]');
    await card.waitFor({ timeout: 15000 });
    await page.locator('[data-testid=storage-status]').waitFor({ timeout: 10000 });
    info(`card ready ${Date.now() - t0} ms after navigation`);
    check('the card renders', await card.isVisible());
    check('the tab-guard gate renders the client area in the first tab', await page.locator('[data-testid=client-area]').isVisible());
    const badges = await page.locator('[data-testid^=ke-badge-]').allTextContents();
    check('the card shows a count badge per KE class, all zero on a clean page', show(badges) === show(['KE-1: 0', 'KE-2: 0', 'KE-3: 0', 'KE-4: 0']), show(badges));
    const storage = await page.locator('[data-testid=storage-status]').textContent();
    check('the card shows the persistent-storage state', /^(persisted|not persisted|unsupported|unknown)$/.test(storage ?? ''), storage);
    const guard = await page.locator('[data-testid=tab-guard-role]').textContent();
    const hasGuard = await page.evaluate(() => typeof globalThis.cryptoHealth?.getTabGuardState === 'function');
    const hasOtk = await page.evaluate(() => typeof globalThis.cryptoHealth?.otkHealth === 'function');
    info(`build has tab guard: ${hasGuard}, otkHealth: ${hasOtk}; card shows tab role "${guard}", storage "${storage}"`);
    check('the card shows the tab-guard role (or that this build has none)', hasGuard ? /^(primary|unsupported)$/.test(guard ?? '') : guard === 'not in this build', guard);
    mkdirSync(OUT, { recursive: true });
    await card.screenshot({ path: path.join(OUT, 'card.png') });
    await page.screenshot({ path: path.join(OUT, 'page.png'), fullPage: true });
    info('screenshots: target/kit/card.png, target/kit/page.png');
    check('no console errors, page errors or failed requests while loading', w.problems.length === 0, `\n  ${w.problems.join('\n  ')}`);

    const first = await downloadReport(page, '[data-testid=download-report]', path.join(OUT, 'report.json'), validate, 'card');
    if (first) {
      check('report: written by crypto-health with the app version the card passed', first.generator?.name === 'crypto-health' && first.versions?.app === 'crypto-health demo', show([first.generator, first.versions]));
      check('report: capture is installed', first.capture?.installed === true, show(first.capture));
    }

    // Demo replay: one KE-2 line moves the KE-2 badge (the card polls every second).
    await page.getByRole('button', { name: 'KE-2 MissingKey' }).click();
    const ke2 = page.locator('[data-testid=ke-badge-KE-2]');
    await ke2.filter({ hasText: 'KE-2: 1' }).waitFor({ timeout: 5000 }).catch(() => {});
    check('replaying a KE-2 line moves the KE-2 badge to 1', (await ke2.textContent()) === 'KE-2: 1', await ke2.textContent());

    // KE-1 storm: three real Synapse conflict lines through console; the package's
    // detector (fed by console and HTTP alike) fires recovery-needed and the prompt opens.
    w.allow(KE1_PREFIX);
    await page.click('[data-testid=demo-storm]');
    const prompt = page.locator('[data-testid=recovery-prompt]');
    const shown = await prompt.waitFor({ timeout: 10000 }).then(() => true, () => false);
    if (check('a KE-1 storm raises the recovery prompt', shown)) {
      const what = await page.locator('[data-testid=recovery-what]').textContent();
      check('prompt: says what happened, with the conflicting key id', (what ?? '').includes('signed_curve25519:AAAAAAAAAA0'), what);
      check('prompt: explains why', ((await page.locator('[data-testid=recovery-why]').textContent()) ?? '').length > 40);
      check('prompt: says what logging out costs', ((await page.locator('[data-testid=recovery-costs]').textContent()) ?? '').includes('backup'));
      const backup = page.locator('[data-testid=recovery-backup]');
      await page.waitForFunction(() => document.querySelector('[data-testid=recovery-backup]')?.getAttribute('data-status') !== 'checking', null, { timeout: 5000 }).catch(() => {});
      check('prompt: the key-backup check ran (no client here: unknown)', (await backup.getAttribute('data-status')) === 'unknown', await backup.getAttribute('data-status'));
      const logout = page.locator('[data-testid=recovery-logout]');
      check('prompt: logout stays disabled until the recovery key is confirmed', await logout.isDisabled());
      await page.check('[data-testid=recovery-have-key]');
      check('prompt: confirming the recovery key enables logout', await until(() => logout.isEnabled(), Boolean));
      await prompt.screenshot({ path: path.join(OUT, 'recovery-prompt.png') });
      info('screenshot: target/kit/recovery-prompt.png');
      await logout.click();
      check('prompt: logout calls the app (demo note shown)', await until(() => page.locator('[data-testid=demo-note]').isVisible(), Boolean));
      const second = await downloadReport(page, '[data-testid=recovery-download]', path.join(OUT, 'report-after-storm.json'), validate, 'prompt');
      if (second) {
        const e = (second.entries ?? []).find((x) => x.signature === 'ke1.otk_conflict');
        check('report after the storm: the KE-1 entry with counter 13, folded 3×', e?.fields?.counter === 13 && e?.repeats === 2, show(e && { fields: e.fields, repeats: e.repeats }));
        check('report after the storm: counts KE-1 = 3', second.counts?.['KE-1']?.count === 3, show(second.counts?.['KE-1']));
      }
      await page.click('[data-testid=recovery-dismiss]');
      check('prompt: "Not now" closes it', await prompt.waitFor({ state: 'detached', timeout: 3000 }).then(() => true, () => false));
      const overall = await until(() => page.locator('[data-testid=overall]').textContent(), (v) => v === 'critical');
      check('card after the storm: overall state critical', overall === 'critical', overall);
      if (hasOtk) {
        const outcome = await until(() => page.locator('[data-testid=otk-health]').getAttribute('data-outcome'), (v) => v !== null && v !== 'healthy');
        check('card after the storm: one-time-key health is no longer healthy', outcome !== null && outcome !== 'healthy', outcome);
      }
      await card.screenshot({ path: path.join(OUT, 'card-after-storm.png') });
      info('screenshot: target/kit/card-after-storm.png');
    }

    // Tab guard: only in builds that have it.
    if (hasGuard) {
      const page2 = await context.newPage();
      const w2 = watch(page2, 'tab 2');
      await page2.goto(server.url, { waitUntil: 'load' });
      const notice2 = page2.locator('[data-testid=another-tab-notice]');
      if (check('tab guard: a second tab shows the "another tab" notice', await notice2.waitFor({ timeout: 15000 }).then(() => true, () => false))) {
        check('tab guard: the gate keeps the client area out of the second tab', (await page2.locator('[data-testid=client-area]').count()) === 0);
        await page2.screenshot({ path: path.join(OUT, 'another-tab.png') });
        await page2.click('[data-testid=use-here]');
        check('tab guard: "Use here" makes the second tab primary', await notice2.waitFor({ state: 'detached', timeout: 10000 }).then(() => true, () => false));
        check('tab guard: the client area mounts in the second tab after "Use here"', await until(() => page2.locator('[data-testid=client-area]').isVisible(), Boolean));
        check('tab guard: the first tab then shows the notice', await page.locator('[data-testid=another-tab-notice]').waitFor({ timeout: 10000 }).then(() => true, () => false));
      }
      check('tab 2: no console errors, page errors or failed requests', w2.problems.length === 0, `\n  ${w2.problems.join('\n  ')}`);
    } else {
      info('skip: tab-guard checks (this build of the package has no getTabGuardState)');
    }
    check('tab 1: no unexpected console errors, page errors or failed requests', w.problems.length === 0, `\n  ${w.problems.join('\n  ')}`);
  } finally {
    await context.close().catch(() => {});
    await server.close().catch(() => {});
  }
}

async function devServer(browser) {
  const { createServer } = await import('vite');
  const server = await createServer({
    configFile: path.join(ROOT, 'www', 'vite.config.js'),
    logLevel: 'silent',
    server: { port: 0, host: '127.0.0.1', hmr: false },
  });
  const context = await browser.newContext();
  try {
    await server.listen();
    const url = server.resolvedUrls?.local?.[0];
    const page = await context.newPage();
    const w = watch(page, 'dev');
    await page.goto(url, { waitUntil: 'load' });
    const ok = await page.locator('[data-testid=crypto-diagnostics-card][data-state=ready]').waitFor({ timeout: 30000 }).then(() => true, () => false);
    check('vite dev server (optimizeDeps.exclude): the card renders', ok);
    check('vite dev server: no console errors, page errors or failed requests', w.problems.length === 0, `\n  ${w.problems.join('\n  ')}`);
  } finally {
    await context.close().catch(() => {});
    await server.close().catch(() => {});
  }
}

// Negative control: the same dev server without optimizeDeps.exclude pre-bundles the
// glue into .vite/deps, its new URL(…wasm, import.meta.url) points there, and the
// wasm fails to load. Shows the exclude line in docs/INTEGRATION.md is the one that matters.
async function devServerWithoutExclude(browser) {
  const { createServer } = await import('vite');
  const config = (await import(path.join(ROOT, 'www', 'vite.config.js'))).default;
  const server = await createServer({
    ...config,
    configFile: false,
    optimizeDeps: { exclude: [] },
    cacheDir: path.join(OUT, 'vite-cache-no-exclude'),
    logLevel: 'silent',
    server: { ...config.server, port: 0, host: '127.0.0.1', hmr: false },
  });
  const context = await browser.newContext();
  try {
    await server.listen();
    const page = await context.newPage();
    const warnings = [];
    page.on('console', (m) => warnings.push(m.text()));
    await page.goto(server.resolvedUrls?.local?.[0], { waitUntil: 'load' });
    const failed = await page.waitForFunction(() => document.body.textContent.includes('crypto-health failed to load'), null, { timeout: 30000 }).then(() => true, () => false);
    check('negative control: without optimizeDeps.exclude the dev page cannot load the wasm', failed && warnings.some((w) => w.includes('crypto-health did not load')), warnings.slice(0, 3).join(' | '));
  } finally {
    await context.close().catch(() => {});
    await server.close().catch(() => {});
  }
}

async function main() {
  let browser;
  try {
    if (!check('pkg/ has been built (npm run build)', existsSync(path.join(ROOT, 'pkg', 'package.json')))) return;
    installPackage(); // node_modules/crypto-health from the packed tarball: tsc and vite both resolve it there
    await typecheck();
    await buildStep();
    const validate = reportValidator();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    await prodPage(browser, validate);
    await devServer(browser);
    await devServerWithoutExclude(browser);
  } catch (e) {
    check('kit test harness', false, e?.stack ?? String(e));
  } finally {
    await browser?.close().catch(() => {});
  }
}

await main();
finish();
