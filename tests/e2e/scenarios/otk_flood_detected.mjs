// The one-time-key flood on the real stack. alice runs the e2e page built against the affected
// pair (matrix-js-sdk 42.3.0, before its single receiveSyncChanges call, matrix-org/matrix-js-sdk#5503,
// with matrix-sdk-crypto-wasm 18.5.0: tests/e2e/flood-page); carol, the control, runs the same page
// on the project's current versions (tests/e2e/page). Both receive a to-device message every half
// second (the js-sdk's extra receiveSyncChanges calls, with no counts, come with to-device events).
// The affected client uploads a new batch of one-time keys after such syncs until Synapse refuses
// (500 keys per device, element-hq/synapse#20162); crypto-health must see it over HTTP (SDK logger
// off), name it otk_flood (not KE-1), and `crypto-health scan` must rank alice's device from the
// database. carol: no flood, no finding.
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startServer } from '../../../scripts/serve.mjs';
import { fail, openPage, pageUrl, until, validateReport } from '../lib/page.mjs';

export const name = 'otk_flood_detected';
export const order = 25;

const WAIT_MS = 90_000;

/** Install the affected pair into target/flood-page (cached: only when the lockfile changed), build and serve its page. */
async function floodPageUrl(ctx) {
  const a = ctx.artifacts;
  if (a.floodPageServer) return a.floodPageServer.url;
  await pageUrl(ctx); // builds pkg/ when missing
  const src = path.join(ctx.root, 'tests', 'e2e', 'flood-page');
  const cache = path.join(ctx.root, 'target', 'flood-page');
  const lock = readFileSync(path.join(src, 'package-lock.json'), 'utf8');
  const installed = path.join(cache, 'node_modules', '.package-lock.json');
  const cachedLock = existsSync(path.join(cache, 'package-lock.json')) ? readFileSync(path.join(cache, 'package-lock.json'), 'utf8') : null;
  if (!existsSync(installed) || cachedLock !== lock) {
    mkdirSync(cache, { recursive: true });
    for (const f of ['package.json', 'package-lock.json']) cpSync(path.join(src, f), path.join(cache, f));
    ctx.log('npm ci (affected pair) into target/flood-page');
    const r = await ctx.exec('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: cache });
    if (r.code !== 0) throw new Error(`npm ci failed:\n${r.stderr.slice(-3000)}`);
  }
  ctx.log('vite build tests/e2e/flood-page');
  const v = await ctx.exec('node', ['node_modules/vite/bin/vite.js', 'build', '--config', 'tests/e2e/flood-page/vite.config.mjs']);
  if (v.code !== 0) throw new Error(`vite build failed:\n${v.stdout.slice(-3000)}${v.stderr.slice(-3000)}`);
  a.floodPageServer = await startServer({ root: 'target/e2e/flood-page', port: 0 });
  a.cleanups = a.cleanups ?? [];
  a.cleanups.push(() => a.floodPageServer.close());
  return a.floodPageServer.url;
}

async function openFloodPage(ctx) {
  const browser = await ctx.browser();
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e}`));
  await page.goto(await floodPageUrl(ctx));
  await page.waitForFunction(() => window.e2e !== undefined, null, { timeout: 60_000 });
  return { context, page, problems };
}

export async function run(ctx) {
  const { synapse, log, exec } = ctx;
  const suffix = Date.now().toString(36);
  const password = 'e2e-flood-pw';
  const figures = {};
  const clients = {};
  for (const [who, open] of [['alice', openFloodPage], ['carol', openPage]]) {
    await synapse.registerUser(`${who}${suffix}`, password);
    const p = await open(ctx);
    ctx.artifacts.cleanups.push(() => p.context.close());
    await p.page.evaluate(() => window.e2e.boot());
    await p.page.evaluate(([b, u, pw]) => window.e2e.login(b, u, pw), [synapse.baseUrl, `${who}${suffix}`, password]);
    const started = await p.page.evaluate(() => window.e2e.startClient({ loggerOff: true, pollTimeout: 1000 }));
    await until(p.page, '() => window.e2e.api.otkHealth().uploads.accepted >= 1', 60_000, `${who}: keys uploaded`);
    clients[who] = { ...p, ...started };
    figures[`${who}_crypto`] = started.crypto;
  }
  log(`alice (affected): ${clients.alice.crypto}; carol (control): ${clients.carol.crypto}`);
  if (clients.alice.crypto === clients.carol.crypto) throw fail('both pages run the same crypto version', figures);

  // To-device traffic for both devices until alice's uploads are refused (or the wait ends).
  const poker = await synapse.registerUser(`poker${suffix}`, password);
  const t0 = Date.now();
  let txn = 0;
  let refusedAt = null;
  while (Date.now() - t0 < WAIT_MS) {
    const messages = {};
    for (const c of Object.values(clients)) messages[c.userId] = { [c.deviceId]: { n: txn } };
    await synapse.request('PUT', `/_matrix/client/v3/sendToDevice/m.dummy/flood${suffix}${txn++}`, { messages }, poker.accessToken);
    const f = await clients.alice.page.evaluate(() => window.e2e.api.otkHealth().flood);
    if (f && f.refusals >= 2) { refusedAt = Date.now() - t0; break; }
    await new Promise((r) => setTimeout(r, 500));
  }
  figures.to_device_sent = txn;
  figures.refused_after_ms = refusedAt;

  const read = (p) => p.evaluate(() => ({ report: JSON.parse(window.e2e.report()), health: window.e2e.api.otkHealth() }));
  const alice = await read(clients.alice.page);
  const carol = await read(clients.carol.page);
  for (const r of [alice, carol]) validateReport(r.report);
  // Each page reports the matrix-js-sdk it was built with: the affected pair, the current one.
  figures.sdk_versions = `${alice.report.versions.sdk}/${carol.report.versions.sdk}`;
  if (alice.report.versions.sdk !== '42.3.0' || carol.report.versions.sdk === '42.3.0') throw fail(`versions: ${figures.sdk_versions}`, figures);
  const af = alice.health.flood;
  Object.assign(figures, {
    alice_outcome: alice.health.outcome, alice_excess_uploads: af && af.excessUploads, alice_max_server_count: af && af.maxServerCount,
    alice_refusals: af && af.refusals, alice_uploads: alice.health.uploads.requests,
    carol_outcome: carol.health.outcome, carol_excess_uploads: carol.health.flood && carol.health.flood.excessUploads,
    carol_max_server_count: carol.health.flood && carol.health.flood.maxServerCount, carol_syncs_with_counts: carol.health.flood && carol.health.flood.syncsWithCounts,
  });
  log(`alice: ${JSON.stringify(af)}`);
  const finding = alice.report.findings.find((f) => f.id === 'otk_flood');
  if (!af || af.excessUploads < 2) throw fail('affected pair: fewer than 2 uploads over the target seen', figures);
  if (!(af.maxServerCount > 100)) throw fail('affected pair: the server count did not grow past 100', figures);
  if (!(af.refusals >= 1) || !String(af.refusal).includes('over the limit of 500')) throw fail(`affected pair: no refusal from Synapse (${af.refusal})`, figures);
  figures.refusal = af.refusal;
  if (alice.health.outcome !== 'flooding') throw fail(`affected pair: outcome ${alice.health.outcome}`, figures);
  if (!finding || finding.ke !== null || finding.level !== 'critical' || !finding.detail.includes('42.4.0')) throw fail(`affected pair: finding ${JSON.stringify(finding)}`, figures);
  if ((alice.report.counts['KE-1']?.failures ?? 0) !== 0 || alice.health.recommendation !== null) throw fail('the flood was taken for KE-1', figures);
  if (!(alice.report.http.sync.requests > 0) || alice.report.http.tapErrors !== 0) throw fail('tap: /sync not read or tap errors', figures);

  const cf = carol.health.flood;
  if (!cf || cf.syncsWithCounts < 5) throw fail('control: its /sync counts were not read', figures);
  if (cf.excessUploads !== 0 || !(cf.maxServerCount <= 50) || carol.health.outcome !== 'healthy') throw fail('control: flood seen on the fixed pair', figures);
  if (carol.report.findings.length !== 0) throw fail(`control: findings ${carol.report.findings.map((f) => f.id)}`, figures);

  for (const c of Object.values(clients)) await c.page.evaluate(() => window.e2e.stopClient());

  // The server's side: scan over the SQLite database ranks alice's device, at Synapse's limit, and not carol's.
  const build = await exec('cargo', ['build', '-q', '-p', 'crypto-health-cli']);
  if (build.code !== 0) throw fail(`cargo build -p crypto-health-cli failed:\n${build.stderr.slice(-3000)}`, figures);
  const scan = await exec(path.join('target', 'debug', 'crypto-health'), ['scan', '--json', '--synapse-db', synapse.dbPath]);
  if (scan.code !== 0) throw fail(`scan failed: ${scan.stderr}`, figures);
  const doc = JSON.parse(scan.stdout);
  const listed = doc.otkFlood.filter((d) => d.userId === clients.alice.userId || d.userId === clients.carol.userId);
  figures.scan_listed = listed.map((d) => `${d.userId} ${d.deviceId} ${d.signedCurve25519}`);
  figures.scan_ms = scan.ms;
  if (listed.length !== 1 || listed[0].deviceId !== clients.alice.deviceId || listed[0].signedCurve25519 !== 500 || listed[0].atSynapseCap !== true || listed[0].firstSafeStep.id !== 'upgrade_client') {
    throw fail(`scan: ${JSON.stringify(listed)}`, figures);
  }
  // Triage over the same database counts the device's keys and names the flood, not KE-1; carol's gets no such note.
  const triageNote = async (c) => {
    const t = await exec(path.join('target', 'debug', 'crypto-health'), ['triage', '--json', '--user', c.userId, '--device', c.deviceId, '--synapse-db', synapse.dbPath]);
    if (t.code !== 0) throw fail(`triage failed: ${t.stderr}`, figures);
    return (JSON.parse(t.stdout).notes ?? []).find((n) => n.includes('one-time-key flood')) ?? null;
  };
  figures.triage_alice_note = await triageNote(clients.alice);
  const carolNote = await triageNote(clients.carol);
  if (!figures.triage_alice_note || !figures.triage_alice_note.includes('holds 500 signed_curve25519') || !figures.triage_alice_note.includes('not KE-1')) throw fail('triage (SQLite): no flood note for alice', figures);
  if (carolNote) throw fail(`triage (SQLite): a flood note for carol: ${carolNote}`, figures);
  const problems = [...clients.alice.problems, ...clients.carol.problems].filter((p) => p.startsWith('pageerror'));
  if (problems.length) throw fail(`page errors: ${problems.slice(0, 3)}`, figures);
  return figures;
}
