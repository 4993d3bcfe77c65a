#!/usr/bin/env node
// Stage `cinny`: crypto-health inside real upstream Cinny v4.12.6, driven end to end.
//
//   node tests/cinny/run.mjs          (after `node scripts/build.mjs`: needs pkg/)
//
// 1. unpack the pristine release tarball (CINNY_TARBALL, default ../shared/cinny/ beside the
//    repository), npm install with the two registry substitutions (cached under
//    target/cinny-cache/), install our `npm pack pkg/` tarball as a file: dependency and apply
//    integrations/cinny/cinny-v4.12.6.patch;
// 2. Cinny's own `tsc --noEmit`: the patch adds no error to the upstream tree's; Cinny's eslint
//    and prettier on the files the patch adds and changes, and on the kit's sources;
// 3. `vite build` of both trees: the gzip bytes the integration adds;
// 4. a real Synapse on loopback, both builds served with config.json pointed at it, Chromium:
//    first render with and without the integration (median, same run); login through Cinny's
//    login page; Developer Tools card (light and dark theme); a fresh login's card and tabs;
//    the rust crypto store evicted under the live session: crypto_store_missing, KE-1 storm,
//    the recovery prompt over Cinny with the key-backup check against the real client, the
//    storm breaker's effect on keys/upload reaching Synapse (against upstream Cinny in the same
//    state), the report (schema, `crypto-health triage` Q1), Log out through Cinny's logout and a
//    clean new device; a second tab's notice and "Use here".
// Results: target/cinny/summary.json, screenshots and reports in target/cinny/.
// Prints `N passed, M failed`; exits non-zero on any failure.
import { createServer } from 'node:http';
import { createReadStream, rmSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../lib/chromium.mjs';
import { createChecks } from '../lib/checks.mjs';
import { reportValidator } from '../lib/report-schema.mjs';
import { startSynapse } from '../e2e/synapse.mjs';
import { MIME_TYPES } from '../../scripts/serve.mjs';
import { CINNY_VERSION, ROOT, SUBSTITUTIONS, sh } from './tree.mjs';
import { PATCH, added, baseline, distSizes, eslint, patchFiles, patchedTree, prettierCheck, tscErrors, viteBuild } from './build.mjs';

const OUT = path.join(ROOT, 'target', 'cinny');
const RENDER_LOADS = Number(process.env.CINNY_RENDER_LOADS ?? 15);
const SYNC_WINDOW = 8; // storm windows are counted in the client's syncs, not in seconds
const t0 = Date.now();

const summary = { cinny: CINNY_VERSION, substitutions: SUBSTITUTIONS, checks: [], figures: {}, knownIssues: [], timingsMs: {} };
const base = createChecks();
function check(name, ok, detail) {
  summary.checks.push({ name, ok: !!ok, ...(ok ? {} : { detail: typeof detail === 'string' ? detail.slice(0, 4000) : detail }) });
  return base.check(name, !!ok, detail);
}
const info = (msg) => console.log(`info: ${msg}`);
const fig = (k, v) => {
  summary.figures[k] = v;
  info(`${k} = ${typeof v === 'object' ? JSON.stringify(v) : v}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const show = (v) => {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
};

async function until(probe, ok, timeoutMs = 10_000, stepMs = 200) {
  const end = Date.now() + timeoutMs;
  let v = await probe().catch(() => undefined);
  while (!ok(v) && Date.now() < end) {
    await sleep(stepMs);
    v = await probe().catch(() => undefined);
  }
  return v;
}

// ------------------------------------------------------------ static server (SPA)
// Cinny's router uses paths (/login/…, /home/…): unknown paths without an extension get index.html.
function serve(dist) {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      let rel = decodeURIComponent(url.pathname);
      let file = path.join(dist, path.posix.normalize(rel));
      if (!file.startsWith(dist)) {
        res.writeHead(403).end();
        return;
      }
      let st = existsSync(file) ? statSync(file) : null;
      if (st && st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = existsSync(file) ? statSync(file) : null;
      }
      if (!st && !path.extname(rel)) {
        file = path.join(dist, 'index.html');
        st = statSync(file);
        rel = '/index.html';
      }
      if (!st) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream', 'content-length': st.size, 'cache-control': 'no-store' });
      createReadStream(file).pipe(res);
    });
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) }));
  });
}

function pointConfigAt(dist, hs) {
  const file = path.join(dist, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  config.defaultHomeserver = 0;
  config.homeserverList = [hs.baseUrl];
  config.allowCustomHomeservers = false;
  config.featuredCommunities = { openAsDefault: false, spaces: [], rooms: [], servers: [] };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
}

// ------------------------------------------------------------------ Synapse log
function logSize(hs) {
  try {
    return statSync(hs.logPath).size;
  } catch {
    return 0;
  }
}
function logSince(hs, from) {
  const size = logSize(hs);
  if (size <= from) return '';
  const fd = openSync(hs.logPath, 'r');
  try {
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Access lines: `{@user:localhost} Processed request: … <status> … "METHOD /path …"`.
function access(hs, from, userId, { method, path: p, status } = {}) {
  const lines = logSince(hs, from).split('\n').filter((l) => l.includes('synapse.access') && l.includes(`{${userId}`));
  return lines.filter((l) => {
    const m = /Processed request: .*?\s(\d{3})!?\s+"(\w+) ([^ ?"]+)/.exec(l);
    if (!m) return false;
    if (method && m[2] !== method) return false;
    if (p && !m[3].endsWith(p)) return false;
    if (status !== undefined && Number(m[1]) !== status) return false;
    return true;
  }).length;
}
const uploads = (hs, from, u, status) => access(hs, from, u, { method: 'POST', path: '/keys/upload', status });
const syncs = (hs, from, u) => access(hs, from, u, { method: 'GET', path: '/sync' });

/** Waits for `n` of the user's syncs after `from`; returns { uploads, uploads400, syncs, ms } over that window. */
async function stormWindow(hs, userId, n, timeoutMs = 120_000) {
  const from = logSize(hs);
  const start = Date.now();
  await until(async () => syncs(hs, from, userId), (v) => v >= n, timeoutMs, 250);
  return { uploads: uploads(hs, from, userId), uploads400: uploads(hs, from, userId, 400), syncs: syncs(hs, from, userId), ms: Date.now() - start };
}

// ------------------------------------------------------------------ CS API
async function api(hs, method, p, body, token) {
  const res = await fetch(`${hs.baseUrl}${p}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = { text };
  }
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
  return json;
}

// Another user's messages make the client's long-poll sync return; each sync runs the
// SDK's outgoing requests, so a storm repeats at the sync rate.
function activity(hs, bob, roomId) {
  let on = true;
  let n = 0;
  const loop = (async () => {
    while (on && n < 2000) {
      n += 1;
      await api(hs, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${Date.now()}-${n}`, { msgtype: 'm.text', body: `tick ${n}` }, bob.accessToken).catch(() => {});
      await sleep(400);
    }
  })();
  return { stop: async () => { on = false; await loop; return n; } };
}

// ------------------------------------------------------------------ browser helpers
// Cinny's notification sound, refused by Chromium's autoplay policy in a tab nobody clicked: upstream's own.
const UPSTREAM_NOISE = /play\(\) failed because the user didn't interact/;
function watch(page, label, problems) {
  page.on('pageerror', (err) => {
    const text = `${err?.message ?? err}`;
    if (UPSTREAM_NOISE.test(text)) return;
    problems.push(`${label} page error: ${text}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const t = m.text();
    // Expected during the storm and from Cinny itself (e.g. failed avatar fetches); recorded, not fatal.
    if (/Application Error|is not defined|Cannot read properties|crypto-health/.test(t)) problems.push(`${label} console.error: ${t.slice(0, 300)}`);
  });
}

async function loginThroughCinny(page, url, user, password) {
  await page.goto(`${url}/`, { waitUntil: 'load' });
  await page.locator('input[name=usernameInput]').waitFor({ timeout: 30_000 });
  await page.fill('input[name=usernameInput]', user);
  await page.fill('input[name=passwordInput]', password);
  await page.click('button[type=submit]');
  const deviceId = await until(() => page.evaluate(() => localStorage.getItem('cinny_device_id')), Boolean, 30_000);
  return deviceId;
}

// Cinny's sidebar: SettingsTab renders the user's avatar (initials in a span) as a button; it is
// tagged for the clicks below (an attribute only: Cinny never reads it).
function tagSettingsButton(page) {
  return page.evaluate(() => {
    const b = [...document.querySelectorAll('button')].find((x) => x.querySelector(':scope > span') && x.textContent.trim().length <= 2);
    if (!b) return false;
    b.setAttribute('data-e2e', 'user-settings');
    return true;
  });
}

/** Cinny's client is up: its sidebar with the user-settings avatar is there (after the first sync). */
async function clientReady(page, timeoutMs = 60_000) {
  return (await until(() => tagSettingsButton(page), Boolean, timeoutMs, 300)) === true;
}

async function openDeveloperTools(page) {
  if (!(await clientReady(page, 30_000))) return false;
  await page.click('[data-e2e=user-settings]');
  await page.getByRole('button', { name: 'Developer Tools' }).click();
  await page.getByText('Enable Developer Tools').waitFor({ timeout: 10_000 });
  // Cinny's Switch (kept in localStorage's settings once on).
  const sw = page.locator('button[role=switch]').first();
  if ((await sw.getAttribute('aria-checked')) !== 'true') await sw.click();
  return page.locator('[data-testid=crypto-diagnostics-card][data-state=ready]').waitFor({ timeout: 20_000 }).then(() => true, () => false);
}

async function closeSettings(page) {
  await page.keyboard.press('Escape').catch(() => {});
  await sleep(300);
}

async function evictCryptoStore(page, url) {
  // Leave Cinny (its IndexedDB connections close with the page), delete the rust crypto
  // store on the same origin, keep localStorage (the session) as eviction does.
  await page.goto(`${url}/config.json`, { waitUntil: 'load' });
  return page.evaluate(async () => {
    const names = ['matrix-js-sdk::matrix-sdk-crypto', 'matrix-js-sdk::matrix-sdk-crypto-meta'];
    const out = [];
    for (const name of names) {
      out.push(
        await new Promise((resolve) => {
          const r = indexedDB.deleteDatabase(name);
          r.onsuccess = () => resolve(`${name}: deleted`);
          r.onerror = () => resolve(`${name}: ${r.error}`);
          r.onblocked = () => resolve(`${name}: blocked`);
        }),
      );
    }
    return { out, left: (await indexedDB.databases()).map((d) => d.name) };
  });
}

// First render: the first node React puts into #root, from navigation start.
const FIRST_RENDER_PROBE = () => {
  window.__firstRender = null;
  const obs = new MutationObserver(() => {
    const root = document.getElementById('root');
    if (root && root.firstChild && window.__firstRender === null) {
      window.__firstRender = performance.now();
      obs.disconnect();
    }
  });
  obs.observe(document, { childList: true, subtree: true });
};

async function firstRender(browser, url) {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    await context.addInitScript(FIRST_RENDER_PROBE);
    const page = await context.newPage();
    await page.goto(`${url}/`, { waitUntil: 'load' });
    return await until(() => page.evaluate(() => window.__firstRender), (v) => typeof v === 'number', 15_000, 50);
  } finally {
    await context.close();
  }
}

// ------------------------------------------------------------------ phases
async function buildPhase() {
  const pkgJson = path.join(ROOT, 'pkg', 'package.json');
  if (!check('pkg/ has been built (node scripts/build.mjs)', existsSync(pkgJson))) return null;
  mkdirSync(OUT, { recursive: true });
  const packed = JSON.parse(sh('npm', ['pack', path.join(ROOT, 'pkg'), '--pack-destination', OUT, '--json', '--silent']).stdout);
  const tarball = path.join(OUT, packed[0].filename);
  check('the package ships the React kit as crypto-health/react (compiled, typed)', packed[0].files.some((f) => f.path === 'react/index.js') && packed[0].files.some((f) => f.path === 'react/index.d.ts'), show(packed[0].files.map((f) => f.path)));
  const pkg = JSON.parse(readFileSync(pkgJson, 'utf8'));
  check('react and folds are peer dependencies; ./react is an export', !!pkg.peerDependencies?.react && !!pkg.peerDependencies?.folds && !!pkg.exports?.['./react'], show({ peers: pkg.peerDependencies, exports: pkg.exports }));
  const mainJs = readFileSync(path.join(ROOT, 'pkg', 'index.js'), 'utf8');
  check("the package's main entry does not load the kit", !mainJs.includes('react') && !mainJs.includes('folds'));

  // The guide quotes the patch; they cannot drift apart.
  const guide = readFileSync(path.join(ROOT, 'docs', 'INTEGRATION.md'), 'utf8');
  const quoted = /\n```diff\n([\s\S]*?)```\n/.exec(guide);
  check('docs/INTEGRATION.md quotes integrations/cinny/cinny-v4.12.6.patch verbatim', !!quoted && quoted[1] === readFileSync(PATCH, 'utf8'));

  let t = Date.now();
  const up = baseline();
  summary.timingsMs.baseline = Date.now() - t;
  summary.figures.cache = { key: up.key, nodeModulesCached: up.cached };
  t = Date.now();
  const app = patchedTree(path.join(OUT, 'app'), up, tarball);
  summary.timingsMs.patchedTree = Date.now() - t;
  info(`patched tree: ${path.relative(ROOT, app)} (package ${path.basename(tarball)}, patch ${path.relative(ROOT, PATCH)})`);

  t = Date.now();
  const tsc = tscErrors(app);
  const extra = added(up.tsc, tsc);
  summary.timingsMs.tsc = Date.now() - t;
  fig('tscErrors', { upstream: up.tsc.length, patched: tsc.length, addedByPatch: extra.length });
  check("Cinny's tsc --noEmit: the patch adds no error to the upstream tree's", extra.length === 0, extra.slice(0, 20).join('\n'));

  const files = patchFiles();
  const lintAdded = eslint(app, files.added);
  check(`Cinny's eslint passes on the files the patch adds (${files.added.join(', ')})`, lintAdded.errors === 0, lintAdded.messages.join('\n'));
  const lintModified = eslint(app, files.modified.filter((f) => /\.[jt]sx?$/.test(f)));
  const lintModifiedUp = eslint(up.dir, files.modified.filter((f) => /\.[jt]sx?$/.test(f)));
  check("Cinny's eslint: no new error in the files the patch changes", lintModified.errors <= lintModifiedUp.errors, lintModified.messages.join('\n'));
  const kitFiles = ['api.ts', 'backupCheck.ts', 'hooks.ts', 'index.ts', 'start.ts', 'ui.tsx', 'CryptoDiagnosticsCard.tsx', 'RecoveryPrompt.tsx', 'AnotherTabNotice.tsx'].map((f) => path.join(ROOT, 'kit', 'react', f));
  // The kit's sources as if they lived in the fork: Cinny's config, its package.json for dependencies.
  const lintKit = eslint(app, kitFiles, ['--no-eslintrc', '-c', '.eslintrc.cjs', '--resolve-plugins-relative-to', '.', '--rule', JSON.stringify({ 'import/no-extraneous-dependencies': ['error', { devDependencies: true, packageDir: app }] })]);
  check("Cinny's eslint passes on the kit's sources (kit/react)", lintKit.errors === 0, lintKit.messages.join('\n'));
  const pretty = prettierCheck(app, [...files.added, ...files.modified]);
  check("Cinny's prettier --check passes on the files the patch adds and changes", pretty.length === 0, pretty.join('\n'));
  const prettyKit = prettierCheck(app, kitFiles, ['--config', '.prettierrc.json']);
  check("Cinny's prettier --check passes on the kit's sources", prettyKit.length === 0, prettyKit.join('\n'));
  summary.figures.lint = { added: files.added, modified: files.modified, eslintWarnings: lintAdded.warnings + lintKit.warnings };

  t = Date.now();
  const buildMs = viteBuild(app);
  summary.timingsMs.patchedViteBuild = buildMs;
  const dist = path.join(app, 'dist');
  check('vite build of the patched tree', existsSync(path.join(dist, 'index.html')));
  const a = distSizes(up.dist);
  const b = distSizes(dist);
  const total = (s) => Object.values(s).reduce((n, x) => n + x.gzip, 0);
  const wasm = Object.entries(b).filter(([f]) => /crypto_health_bg.*\.wasm$/.test(f));
  check('the package wasm is a hashed asset of the build', wasm.length === 1, show(Object.keys(b).filter((f) => f.endsWith('.wasm'))));
  const byKind = {};
  for (const [f, s] of Object.entries(b)) {
    if (a[f]) continue; // same name and so same content hash: unchanged
    const kind = f.endsWith('.wasm') ? 'wasm' : f.endsWith('.js') ? 'js' : f.endsWith('.css') ? 'css' : 'other';
    byKind[kind] = (byKind[kind] ?? 0) + s.gzip;
  }
  for (const [f, s] of Object.entries(a)) {
    if (b[f]) continue;
    const kind = f.endsWith('.wasm') ? 'wasm' : f.endsWith('.js') ? 'js' : f.endsWith('.css') ? 'css' : 'other';
    byKind[kind] = (byKind[kind] ?? 0) - s.gzip;
  }
  fig('buildAddedGzipBytes', total(b) - total(a));
  // What index.html loads before anything renders: its module script and modulepreloads.
  const initialOf = (d, sizes) => {
    const html = readFileSync(path.join(d, 'index.html'), 'utf8');
    const files = [...html.matchAll(/<(?:script[^>]+type="module"[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="\/?([^"]+\.js)"/g)].map((m) => m[1]);
    return files.reduce((n, f) => n + (sizes[f]?.gzip ?? 0), 0);
  };
  fig('initialJsAddedGzipBytes', initialOf(dist, b) - initialOf(up.dist, a));
  fig('buildAddedGzipBytesByKind', byKind);
  return { up, app, dist, tarball };
}

async function browserPhase(builds, hs, browser) {
  const validate = reportValidator();
  pointConfigAt(builds.up.dist, hs);
  pointConfigAt(builds.dist, hs);
  const upstream = await serve(builds.up.dist);
  const patched = await serve(builds.dist);
  const cleanups = [upstream.close, patched.close];
  try {
    // ---- first render, logged out, with and without the integration (interleaved)
    const withMs = [];
    const withoutMs = [];
    for (let i = 0; i < RENDER_LOADS; i += 1) {
      withoutMs.push(await firstRender(browser, upstream.url));
      withMs.push(await firstRender(browser, patched.url));
    }
    // Loads alternate, so drift in the machine's load hits both; the paired median is the
    // steadier of the two estimates on a busy machine.
    const added = median(withMs) - median(withoutMs);
    const paired = median(withMs.map((x, i) => x - withoutMs[i]));
    fig('firstRenderMs', { upstream: withoutMs.map(Math.round), patched: withMs.map(Math.round), medianUpstream: Math.round(median(withoutMs)), medianPatched: Math.round(median(withMs)) });
    fig('firstRenderAddedMs', Math.round(added * 10) / 10);
    fig('firstRenderAddedPairedMedianMs', Math.round(paired * 10) / 10);
    summary.figures.firstRenderGoalMs = 20;
    summary.figures.firstRenderGoalMet = added <= 20;
    check('first render measured in every load (both builds)', withMs.every((x) => typeof x === 'number') && withoutMs.every((x) => typeof x === 'number'), show({ withMs, withoutMs }));

    // ---- users and a room whose messages keep the clients' syncs returning
    const stamp = Date.now().toString(36);
    const pw = 'cinny-e2e-pw';
    const alice = { name: `alice${stamp}`, userId: `@alice${stamp}:${hs.serverName}` };
    const carol = { name: `carol${stamp}`, userId: `@carol${stamp}:${hs.serverName}` };
    await hs.registerUser(alice.name, pw);
    await hs.registerUser(carol.name, pw);
    const bob = await hs.registerUser(`bob${stamp}`, pw);
    const room = await api(hs, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat', name: 'storm', visibility: 'private' }, bob.accessToken);

    // ---- baseline: upstream Cinny, same eviction, same activity (no crypto-health)
    const ctxA = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    cleanups.push(() => ctxA.close());
    const pageA = await ctxA.newPage();
    const upProblems = [];
    watch(pageA, 'upstream', upProblems);
    await loginThroughCinny(pageA, upstream.url, carol.name, pw);
    check('upstream Cinny: login through its login page', await clientReady(pageA));
    const carolToken = await pageA.evaluate(() => localStorage.getItem('cinny_access_token'));
    await api(hs, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(room.room_id)}`, {}, carolToken);
    await until(async () => uploads(hs, 0, carol.userId, 200), (v) => v >= 1, 60_000);
    const evA = await evictCryptoStore(pageA, upstream.url);
    info(`upstream eviction: ${show(evA)}`);
    let act = activity(hs, bob, room.room_id);
    await pageA.goto(`${upstream.url}/`, { waitUntil: 'load' });
    // Let the storm settle in, then count one window.
    await until(async () => uploads(hs, 0, carol.userId, 400), (v) => v >= 3, 90_000);
    const baseWin = await stormWindow(hs, carol.userId, SYNC_WINDOW);
    await act.stop();
    fig('upstreamStorm', baseWin);
    check('upstream Cinny after eviction: keys/upload is rejected (400) on every sync', baseWin.uploads400 >= SYNC_WINDOW / 2, show(baseWin));
    await ctxA.close();

    // ---- the integration: fresh login, card, themes, second tab right after login
    const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    cleanups.push(() => ctx.close());
    const page = await ctx.newPage();
    const problems = [];
    watch(page, 'tab 1', problems);
    const dev1 = await loginThroughCinny(page, patched.url, alice.name, pw);
    check('patched Cinny: login through its login page, client starts', await clientReady(page), show(problems));
    check('patched Cinny: boots and logs in without a page error', problems.length === 0, problems.join('\n'));
    const aliceToken = await page.evaluate(() => localStorage.getItem('cinny_access_token'));
    await api(hs, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(room.room_id)}`, {}, aliceToken);
    await until(async () => uploads(hs, 0, alice.userId, 200), (v) => v >= 1, 60_000);

    // Right after the fresh login (no reload): a second tab must not run a second client.
    const early = await ctx.newPage();
    const earlyProblems = [];
    watch(early, 'tab 2 (fresh login)', earlyProblems);
    await early.goto(`${patched.url}/`, { waitUntil: 'load' });
    const earlyNotice = await early.locator('[data-testid=another-tab-notice]').waitFor({ timeout: 15_000 }).then(() => true, () => false);
    if (!check('right after a fresh login, a second tab shows the another-tab notice (one primary per device)', earlyNotice)) {
      summary.knownIssues.push('tab guard: the lock taken before login is origin-scoped, the one taken after login user/device-scoped, so a tab opened after a fresh login (without reload) becomes a second primary; fixed in the tab guard (crates/wasm guard), not in the kit');
    }
    await early.close();

    const cardOk = await openDeveloperTools(page);
    check('Developer Tools: the Crypto Diagnostics card renders among Cinny\'s sections', cardOk);
    const card = page.locator('[data-testid=crypto-diagnostics-card]');
    if (cardOk) {
      const badges = await page.locator('[data-testid^=ke-badge-]').allTextContents();
      check('card: a count per KE class', badges.length === 4 && badges.every((b) => /^KE-\d: \d+$/.test(b)), show(badges));
      const storage = await page.locator('[data-testid=storage-status]').textContent();
      check('card: persistent-storage state', /^(persisted|not persisted|unsupported|unknown)$/.test(storage ?? ''), storage);
      const role = await page.locator('[data-testid=tab-guard-role]').textContent();
      check('card: tab role primary', role === 'primary', role);
      const store = await until(() => page.locator('[data-testid=crypto-store]').textContent(), (v) => v === 'present', 10_000);
      check('card right after a fresh login: the crypto store is present (checked under the live client, not the boot-time check)', store === 'present', `${store}: ${await page.locator('[data-testid=store-checked]').textContent()}`);
      const inter = await card.evaluate((el) => getComputedStyle(el).fontFamily);
      check("card: Cinny's font (Inter)", /Inter/i.test(inter), inter);
      await card.screenshot({ path: path.join(OUT, 'card-light.png') });
      const light = await page.locator('[data-testid=crypto-diagnostics-card] > div').nth(0).evaluate((el) => getComputedStyle(el).backgroundColor);
      await page.emulateMedia({ colorScheme: 'dark' });
      await sleep(500);
      const dark = await page.locator('[data-testid=crypto-diagnostics-card] > div').nth(0).evaluate((el) => getComputedStyle(el).backgroundColor);
      await card.screenshot({ path: path.join(OUT, 'card-dark.png') });
      await page.screenshot({ path: path.join(OUT, 'devtools-dark.png') });
      await page.emulateMedia({ colorScheme: 'light' });
      const lum = (rgb) => {
        const [r, g, bl] = (rgb.match(/\d+/g) ?? []).map(Number);
        return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
      };
      fig('cardBackground', { light, dark });
      check("card follows Cinny's theme: dark background in the dark theme, light in the light one", lum(dark) < 90 && lum(light) > 160, show({ light, dark }));
      info('screenshots: target/cinny/card-light.png, card-dark.png, devtools-dark.png');
    }
    await closeSettings(page);

    // ---- key backup on the server (the prompt's check reads it through the real client)
    const backup = await api(hs, 'POST', '/_matrix/client/v3/room_keys/version', { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: randomBytes(32).toString('base64').replace(/=+$/, '') } }, aliceToken);
    info(`key backup version ${backup.version} created on the server for ${alice.userId}`);

    // ---- eviction under the live session, reload: crypto_store_missing, storm, prompt
    const ev = await evictCryptoStore(page, patched.url);
    info(`eviction: ${show(ev)}`);
    check('eviction: the rust crypto store is deleted, the session stays', ev.out.every((x) => x.endsWith('deleted')) && !ev.left.includes('matrix-js-sdk::matrix-sdk-crypto'), show(ev));
    act = activity(hs, bob, room.room_id);
    const stormFrom = logSize(hs);
    await page.goto(`${patched.url}/`, { waitUntil: 'load' });
    const prompt = page.locator('[data-testid=recovery-prompt]');
    const shown = await prompt.waitFor({ timeout: 120_000 }).then(() => true, () => false);
    check('KE-1 storm: the recovery prompt opens over Cinny', shown, logSince(hs, stormFrom).split('\n').filter((l) => l.includes('keys/upload')).slice(-3).join('\n'));
    let reportFile = null;
    if (shown) {
      const win = await stormWindow(hs, alice.userId, SYNC_WINDOW);
      fig('patchedStorm', win);
      const perSyncBase = baseWin.uploads / baseWin.syncs;
      const perSync = win.uploads / win.syncs;
      const drop = perSyncBase > 0 ? 1 - perSync / perSyncBase : null;
      fig('breakerUploadDrop', drop === null ? null : Math.round(drop * 1000) / 10);
      check('storm breaker (on by default): keys/upload reaching Synapse per sync drops >= 90 % against upstream Cinny', drop !== null && drop >= 0.9, show({ upstream: baseWin, patched: win }));
      check('storm breaker: Cinny\'s sync keeps running', win.syncs >= SYNC_WINDOW, show(win));

      const what = await page.locator('[data-testid=recovery-what]').textContent();
      check('prompt: names the conflicting one-time key', /signed_curve25519:[A-Za-z0-9+/]{11}/.test(what ?? ''), what);
      const bk = page.locator('[data-testid=recovery-backup]');
      const status = await until(() => bk.getAttribute('data-status'), (v) => v && v !== 'checking', 15_000);
      const bkText = await bk.textContent();
      check('prompt: the key-backup check reads the server backup through the real client', status === 'inactive' || status === 'active', `${status}: ${bkText}`);
      check('prompt: names the backup version on the server', (bkText ?? '').includes(`version ${backup.version}`), bkText);
      const text = await prompt.textContent();
      check("prompt: names Cinny's real settings pages (Settings → Devices), not Settings → Security", text.includes('Settings → Devices') && !text.includes('Settings → Security') && text.includes('Settings → Developer Tools'), text.slice(0, 200));
      const sizes = await page.evaluate(() => {
        const box = (el) => {
          if (!el) return null;
          const r = el.getBoundingClientRect();
          const cs = getComputedStyle(el);
          return { w: r.width, h: r.height, visibility: cs.visibility, display: cs.display, opacity: cs.opacity };
        };
        const input = document.querySelector('[data-testid=recovery-have-key]');
        return {
          checkbox: box(input && input.parentElement),
          input: box(input),
          logout: box(document.querySelector('[data-testid=recovery-logout]')),
          download: box(document.querySelector('[data-testid=recovery-download]')),
          dismiss: box(document.querySelector('[data-testid=recovery-dismiss]')),
        };
      });
      fig('promptControlSizes', sizes);
      const visible = (b) => b && b.w >= 12 && b.h >= 12 && b.visibility === 'visible' && b.display !== 'none';
      check("prompt: the confirmation checkbox is visible under Cinny's CSS (computed size)", visible(sizes.checkbox) && sizes.input && sizes.input.w >= 12, show(sizes));
      check('prompt: its buttons are visible (computed size)', visible(sizes.logout) && visible(sizes.download) && visible(sizes.dismiss), show(sizes));
      const logout = page.locator('[data-testid=recovery-logout]');
      check('prompt: Log out stays disabled until the recovery key is confirmed', await logout.isDisabled());
      await prompt.screenshot({ path: path.join(OUT, 'recovery-prompt.png') });
      await page.screenshot({ path: path.join(OUT, 'recovery-prompt-over-cinny.png') });
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.click('[data-testid=recovery-download]')]);
      const name = download.suggestedFilename();
      reportFile = path.join(OUT, 'report-storm.json');
      await download.saveAs(reportFile);
      check('report: generic default name crypto-health-report-<UTC>.json', /^crypto-health-report-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.json$/.test(name), name);
      let report = null;
      try {
        report = JSON.parse(readFileSync(reportFile, 'utf8'));
      } catch (e) {
        check('report: JSON', false, String(e));
      }
      if (report) {
        const v = validate(report);
        check('report: validates against schema/report.schema.json', v.ok, v.errors);
        check('report: crypto_store_missing critical and the KE-1 proof', report.findings?.some((f) => f.id === 'crypto_store_missing' && f.level === 'critical') && !!report.otkHealth?.proof, show({ findings: report.findings?.map((f) => f.id), proof: report.otkHealth?.proof }));
        const br = report.otkHealth?.breaker;
        check('report: the storm breaker is on and held requests back (the drop is its doing)', br?.enabled === true && br?.savedRequests > 0, show(br));
        check('report: written with Cinny\'s version', report.versions?.app === `cinny ${CINNY_VERSION}`, show(report.versions));
      }
      await page.click('[data-testid=recovery-dismiss]');
      await prompt.waitFor({ state: 'detached', timeout: 5000 }).catch(() => {});

      // The card under the storm.
      if (await openDeveloperTools(page)) {
        const ids = await page.locator('[data-finding]').evaluateAll((els) => els.map((e) => e.getAttribute('data-finding')));
        check('card after eviction: crypto_store_missing (critical)', ids.includes('crypto_store_missing') && (await card.getAttribute('data-tone')) === 'critical', show({ ids, tone: await card.getAttribute('data-tone') }));
        const outcome = await until(() => page.locator('[data-testid=otk-health]').getAttribute('data-outcome'), (v) => v && v !== 'healthy', 10_000);
        check('card: the KE-1 storm is detected (one-time keys no longer healthy)', outcome && outcome !== 'healthy', outcome);
        const ke1 = await page.locator('[data-testid=ke-badge-KE-1]').textContent();
        info(`card after the storm: KE-1 badge "${ke1}", one-time keys ${outcome}`);
        await card.screenshot({ path: path.join(OUT, 'card-storm-light.png') });
        await closeSettings(page);
      }
    }
    await act.stop();

    // ---- triage of the downloaded report against this Synapse's database
    if (reportFile) {
      const cli = path.join(ROOT, 'target', 'debug', 'crypto-health');
      sh('cargo', ['build', '-q', '-p', 'crypto-health-cli'], { cwd: ROOT });
      const r = sh(cli, ['triage', '--json', '--report', reportFile, '--synapse-db', hs.dbPath, '--synapse-log', hs.logPath], { cwd: ROOT, allowFail: true, quiet: true });
      writeFileSync(path.join(OUT, 'triage.json'), r.stdout || r.stderr);
      let q1 = null;
      try {
        q1 = JSON.parse(r.stdout).questions.find((q) => q.id === 'Q1');
      } catch {
        q1 = null;
      }
      fig('triageQ1', q1 && { answer: q1.answer, keyId: q1.details?.keyId });
      check('crypto-health triage with Synapse\'s database answers Q1 (yes: divergence)', r.status === 0 && q1 && q1.answer === 'yes', (r.stderr || r.stdout).slice(0, 1000));
    }

    // ---- Log out through the prompt (Cinny's logoutClient), log in again: a new device, no 400s
    await page.goto(`${patched.url}/`, { waitUntil: 'load' }); // the storm goes on: the prompt comes back
    const again = await prompt.waitFor({ timeout: 120_000 }).then(() => true, () => false);
    check('after a reload the storm raises the prompt again', again);
    if (again) {
      await page.check('[data-testid=recovery-have-key]');
      const logout = page.locator('[data-testid=recovery-logout]');
      check('prompt: confirming the recovery key enables Log out', await until(() => logout.isEnabled(), Boolean, 5000));
      const from = logSize(hs);
      await logout.click();
      await page.locator('input[name=usernameInput]').waitFor({ timeout: 30_000 }).catch(() => {});
      const loggedOut = access(hs, from, alice.userId, { method: 'POST', path: '/logout', status: 200 });
      check("Log out runs Cinny's logout: the device is logged out on the server, the login page is back", loggedOut >= 1 && (await page.locator('input[name=usernameInput]').isVisible()), `logout requests: ${loggedOut}`);
      act = activity(hs, bob, room.room_id);
      const reFrom = logSize(hs);
      const dev2 = await loginThroughCinny(page, patched.url, alice.name, pw);
      await clientReady(page);
      check('the next login is a new device', !!dev2 && dev2 !== dev1, show({ dev1, dev2 }));
      await until(async () => uploads(hs, reFrom, alice.userId, 200), (v) => v >= 1, 60_000);
      const clean = await stormWindow(hs, alice.userId, SYNC_WINDOW);
      await act.stop();
      fig('afterRelogin', { ...clean, uploads200: uploads(hs, reFrom, alice.userId, 200), uploads400Total: uploads(hs, reFrom, alice.userId, 400) });
      check('new device: keys/upload accepted, no more 400s', uploads(hs, reFrom, alice.userId, 400) === 0 && uploads(hs, reFrom, alice.userId, 200) >= 1, show(summary.figures.afterRelogin));
    }

    // ---- second tab: the notice, Use here moves the client
    await page.reload({ waitUntil: 'load' });
    await clientReady(page);
    const tab2 = await ctx.newPage();
    const p2 = [];
    watch(tab2, 'tab 2', p2);
    await tab2.goto(`${patched.url}/`, { waitUntil: 'load' });
    const notice = tab2.locator('[data-testid=another-tab-notice]');
    const noticeShown = await notice.waitFor({ timeout: 20_000 }).then(() => true, () => false);
    if (check('a second tab shows the another-tab notice', noticeShown)) {
      await tab2.screenshot({ path: path.join(OUT, 'another-tab.png') });
      check('the second tab does not start the Matrix client', !(await tab2.getByText('Heating up').isVisible().catch(() => false)) && !(await tagSettingsButton(tab2)));
      const bg = await notice.evaluate((el) => getComputedStyle(el).backgroundColor);
      fig('noticeBackground', bg);
      await tab2.click('[data-testid=use-here]');
      check('Use here: the notice goes and the client starts in the second tab', (await notice.waitFor({ state: 'detached', timeout: 15_000 }).then(() => true, () => false)) && (await clientReady(tab2)));
      check('Use here: the first tab then shows the notice', await page.locator('[data-testid=another-tab-notice]').waitFor({ timeout: 20_000 }).then(() => true, () => false));
    }
    check('tab 1: no page errors', problems.length === 0, problems.join('\n'));
    check('tab 2: no page errors', p2.length === 0, p2.join('\n'));
    if (upProblems.length) info(`upstream Cinny problems (not ours): ${upProblems.join(' | ')}`);
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => {});
  }
}

async function main() {
  let hs = null;
  let browser = null;
  try {
    const builds = await buildPhase();
    if (!builds) return;
    if (process.argv.includes('--build-only')) return;
    let t = Date.now();
    rmSync(path.join(OUT, 'synapse'), { recursive: true, force: true }); // a fresh database and log per run
    hs = await startSynapse({ dir: path.join(OUT, 'synapse') });
    info(`Synapse at ${hs.baseUrl} (log ${path.relative(ROOT, hs.logPath)})`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    await browserPhase(builds, hs, browser);
    summary.timingsMs.browser = Date.now() - t;
  } catch (e) {
    check('cinny stage harness', false, e?.stack ?? String(e));
  } finally {
    await browser?.close().catch(() => {});
    await hs?.stop().catch(() => {});
    summary.timingsMs.total = Date.now() - t0;
    summary.passed = summary.checks.filter((c) => c.ok).length;
    summary.failed = summary.checks.filter((c) => !c.ok).length;
    mkdirSync(OUT, { recursive: true });
    writeFileSync(path.join(OUT, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    info(`wrote target/cinny/summary.json (${Math.round(summary.timingsMs.total / 1000)} s)`);
  }
}

await main();
base.finish();
