#!/usr/bin/env node
// Startup cost where users feel it: per tree, navigation -> the logged-in home view (the
// sidebar with the user's avatar rendered), the pristine build against the integrated one, the
// two interleaved, median of N runs, as is and under a throttled mobile profile (150 ms RTT,
// 1.6 Mbit/s down, 750 kbit/s up, CPU 4x slower, via the DevTools protocol). A benchmark, not a
// test: it reports the added time and its share; it fails only on a harness error.
//
//   node tests/forks/startup-bench.mjs [--tree upstream|calls|sable ...] [--runs 5] [--asis-runs 31] [--profiles asis,throttled] [--no-compress]
//
// Needs the builds of stage `forks` (node tests/forks/run.mjs --tree <id> leaves the integrated
// tree in target/forks/<id>/app/dist; the pristine build is made here once and cached beside the
// tree's node_modules). Results: target/forks/startup.json.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../lib/chromium.mjs';
import { startSynapse } from '../e2e/synapse.mjs';
import { ROOT, TREES, baseTree } from './tree.mjs';
import { pointConfigAt, serve } from './serve.mjs';
import { viteBuild } from './build.mjs';
import { HOME_PROBE } from './probes.mjs';

const argv = process.argv.slice(2);
const values = (name) => argv.flatMap((a, i) => (a === name ? [argv[i + 1]] : []));
const treeIds = values('--tree').length ? values('--tree') : ['upstream', 'calls', 'sable'];
const RUNS = Number(values('--runs')[0] ?? 5);
// As is, a load takes ~0.5 s and its runs spread by ±50 ms on a busy 2-core machine: more of
// them, so that the medians can tell a 2 % (~10 ms) difference at all.
const ASIS_RUNS = Number(values('--asis-runs')[0] ?? Math.max(RUNS, 31));
const PROFILES = (values('--profiles')[0] ?? 'asis,throttled').split(',');
const OUT = path.join(ROOT, 'target', 'forks');
// gzip on the wire unless --no-compress (the figure of a server that sends files as they are).
const COMPRESS = !argv.includes('--no-compress');
const THROTTLE = { latency: 150, downloadThroughput: (1.6e6 / 8), uploadThroughput: (750e3 / 8), cpu: 4 };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function login(page, url, user, password) {
  await page.goto(`${url}/`, { waitUntil: 'load' });
  await page.locator('input[name=usernameInput]').waitFor({ timeout: 60_000 });
  await page.fill('input[name=usernameInput]', user);
  await page.fill('input[name=passwordInput]', password);
  await page.click('button[type=submit]');
  await page.waitForFunction(() => window.__home !== null, null, { timeout: 120_000, polling: 100 });
}

async function homeMs(page, cdp, url, throttled) {
  if (throttled) {
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: THROTTLE.latency, downloadThroughput: THROTTLE.downloadThroughput, uploadThroughput: THROTTLE.uploadThroughput });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE.cpu });
  }
  try {
    await page.goto(`${url}/`, { waitUntil: 'commit' });
    await page.waitForFunction(() => window.__home !== null, null, { timeout: 300_000, polling: 100 });
    return await page.evaluate(() => window.__home);
  } finally {
    if (throttled) {
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    }
  }
}

async function benchTree(browser, hs, id) {
  const spec = TREES[id];
  const base = baseTree(spec);
  const pristine = path.join(base.dir, 'dist');
  if (!existsSync(path.join(pristine, 'index.html'))) viteBuild(base.dir);
  const integrated = path.join(OUT, id, 'app', 'dist');
  if (!existsSync(path.join(integrated, 'index.html'))) throw new Error(`${path.relative(ROOT, integrated)} missing: run node tests/forks/run.mjs --tree ${id} first`);
  pointConfigAt(pristine, hs);
  pointConfigAt(integrated, hs);
  const servers = { pristine: await serve(pristine, { gzip: COMPRESS }), integrated: await serve(integrated, { gzip: COMPRESS }) };
  const result = { tree: id, label: spec.label, runs: RUNS, profiles: {} };
  try {
    const pw = 'bench-pw';
    const pages = {};
    for (const v of ['pristine', 'integrated']) {
      const name = `b${id}${v[0]}${Date.now().toString(36)}`;
      await hs.registerUser(name, pw);
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: 'block' });
      await ctx.addInitScript(HOME_PROBE);
      const page = await ctx.newPage();
      await login(page, servers[v].url, name, pw);
      pages[v] = { ctx, page, cdp: await ctx.newCDPSession(page) };
    }
    for (const profile of PROFILES) {
      const ms = { pristine: [], integrated: [] };
      // One warm-up each (the first logged-in load fills the sync cache), then interleaved runs.
      for (const v of ['pristine', 'integrated']) await homeMs(pages[v].page, pages[v].cdp, servers[v].url, profile === 'throttled');
      const runs = profile === 'throttled' ? RUNS : ASIS_RUNS;
      for (let i = 0; i < runs; i += 1) {
        for (const v of i % 2 ? ['integrated', 'pristine'] : ['pristine', 'integrated']) {
          ms[v].push(Math.round(await homeMs(pages[v].page, pages[v].cdp, servers[v].url, profile === 'throttled')));
        }
      }
      const a = median(ms.pristine);
      const b = median(ms.integrated);
      // The two loads of a pair ran back to back: the median of their differences is the
      // steadier estimate when the machine's load drifts.
      const paired = median(ms.integrated.map((x, j) => x - ms.pristine[j]));
      result.profiles[profile] = { runs, ms, medianPristine: a, medianIntegrated: b, addedMs: Math.round(b - a), addedPct: Math.round(((b - a) / a) * 1000) / 10, pairedAddedMs: Math.round(paired), goalPct: 2, goalMet: (b - a) / a <= 0.02 };
      console.log(`bench: ${id} ${profile}: ${a} -> ${b} ms (median of ${runs}): ${b - a >= 0 ? '+' : ''}${Math.round(b - a)} ms (${result.profiles[profile].addedPct} %); paired median ${paired >= 0 ? '+' : ''}${Math.round(paired)} ms`);
    }
    for (const v of Object.values(pages)) await v.ctx.close();
  } finally {
    await servers.pristine.close();
    await servers.integrated.close();
  }
  return result;
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const dir = path.join(OUT, 'bench-synapse');
  rmSync(dir, { recursive: true, force: true });
  const hs = await startSynapse({ dir });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const results = [];
  try {
    for (const id of treeIds) results.push(await benchTree(browser, hs, id));
  } finally {
    await browser.close().catch(() => {});
    await hs.stop().catch(() => {});
  }
  const file = path.join(OUT, 'startup.json');
  const prev = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { trees: {} };
  // A run of one profile keeps the other's last figures.
  const at = new Date().toISOString();
  for (const r of results) {
    const kept = prev.trees[r.tree]?.profiles ?? {};
    for (const p of Object.values(r.profiles)) p.at = at;
    prev.trees[r.tree] = { ...r, profiles: { ...kept, ...r.profiles }, at };
  }
  prev.throttle = THROTTLE;
  prev.compressed = COMPRESS;
  writeFileSync(file, `${JSON.stringify(prev, null, 2)}\n`);
  console.log(`bench: wrote ${path.relative(ROOT, file)}`);
}

await main();
