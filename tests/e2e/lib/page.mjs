// Shared by the browser scenarios: build the e2e page once per run (tests/e2e/page, Cinny's Vite
// setup, real matrix-js-sdk + crypto-wasm + our release pkg/), serve it on loopback, open pages
// that record their console errors, and read Synapse's access log.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { reportValidator } from '../../lib/report-schema.mjs';
import { startServer } from '../../../scripts/serve.mjs';

/** The served page URL; builds pkg/ and the page on first use in a run. */
export async function pageUrl(ctx) {
  const a = ctx.artifacts;
  if (!a.pageServer) {
    if (!existsSync(path.join(ctx.root, 'pkg', 'index.js'))) {
      ctx.log('pkg/ missing: node scripts/build.mjs --warn-size');
      const b = await ctx.exec('node', ['scripts/build.mjs', '--warn-size']);
      if (b.code !== 0) throw new Error(`build failed:\n${b.stdout.slice(-3000)}${b.stderr.slice(-3000)}`);
    }
    ctx.log('vite build tests/e2e/page');
    const v = await ctx.exec('node', ['node_modules/vite/bin/vite.js', 'build', '--config', 'tests/e2e/page/vite.config.mjs']);
    if (v.code !== 0) throw new Error(`vite build failed:\n${v.stdout.slice(-3000)}${v.stderr.slice(-3000)}`);
    a.pageServer = await startServer({ root: 'target/e2e/page', port: 0 });
    a.cleanups = a.cleanups ?? [];
    a.cleanups.push(() => a.pageServer.close());
  }
  return a.pageServer.url;
}

/** A fresh browser context (its own IndexedDB and localStorage) with the page loaded. */
export async function openPage(ctx, { context } = {}) {
  const browser = await ctx.browser();
  const c = context ?? (await browser.newContext({ acceptDownloads: true }));
  const page = await c.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text().slice(0, 500)}`);
  });
  await page.goto(await pageUrl(ctx));
  await page.waitForFunction(() => window.e2e !== undefined, null, { timeout: 60_000 });
  return { context: c, page, problems };
}

/** Poll a condition inside the page (the page's own waitFor, so no sleeps here). */
export function until(page, fnSource, timeoutMs, what) {
  return page.evaluate(([src, ms, w]) => window.e2e.waitFor(new Function(`return (${src})`)(), ms, w), [fnSource, timeoutMs, what]);
}

/** Count access-log lines since `from` (a byte offset) whose request matches `re`. */
export function accessCount(synapse, from, re) {
  const text = readFileSync(synapse.logPath, 'utf8').slice(from);
  return text.split('\n').filter((l) => l.includes('synapse.access') && re.test(l)).length;
}

export function logSize(synapse) {
  try { return statSync(synapse.logPath).size; } catch { return 0; }
}

let validate = null;
/** Validate a report against schema/report.schema.json; throws with the errors. */
export function validateReport(report) {
  validate ??= reportValidator();
  const { ok, errors } = validate(report);
  if (!ok) throw new Error(`report does not validate: ${errors.slice(0, 2000)}`);
}

/** Fail with the figures gathered so far attached (the runner prints them). */
export function fail(message, figures) {
  const e = new Error(message);
  e.figures = figures;
  return e;
}
