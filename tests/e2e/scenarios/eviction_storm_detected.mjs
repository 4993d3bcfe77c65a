// KE-1 the way users get it: a logged-in device whose rust crypto store is evicted while the
// session stays, restarted with the SDK logger off (production Cinny). crypto-health must raise
// the consistency finding at start, the identity-reset early warning at the first upload, see the
// real Synapse 400 storm over HTTP, prove the divergence, emit recovery-needed exactly once, and
// put it all in the downloaded report. Leaves the stormy page in ctx.artifacts.storm for
// storm_breaker_saves_requests and relogin_recovers.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail, openPage, until, validateReport } from '../lib/page.mjs';

export const name = 'eviction_storm_detected';
export const order = 30;

export async function run(ctx) {
  const { synapse, log, outDir, artifacts, root } = ctx;
  const figures = {};
  const user = `evict${Date.now().toString(36)}`;
  const password = 'e2e-evict-pw';
  await synapse.registerUser(user, password);

  // 1. A healthy first life: log in, rust crypto, keys uploaded, store seen.
  const { context, page, problems } = await openPage(ctx);
  artifacts.cleanups.push(() => context.close());
  await page.evaluate(() => window.e2e.boot());
  const ids = await page.evaluate(([b, u, p]) => window.e2e.login(b, u, p), [synapse.baseUrl, user, password]);
  figures.device_id = ids.deviceId;
  await page.evaluate(() => window.e2e.startClient({ loggerOff: false }));
  await until(page, '() => window.e2e.api.otkHealth().uploads.accepted >= 1', 60_000, 'first keys/upload accepted');
  const first = await page.evaluate(async () => {
    const f = await window.e2e.api.checkCryptoStoreConsistency(); // records that the store existed
    return { finding: f, health: window.e2e.api.otkHealth() };
  });
  if (first.finding !== null) {
    const dbs = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    throw fail(`healthy start raised ${first.finding.id} (${first.finding.title}); databases: ${dbs}`, figures);
  }
  figures.first_identity = first.health.identity.known;
  log(`first life: device ${ids.deviceId}, identity ${first.health.identity.known}, max accepted counter ${first.health.maxAcceptedCounter}`);

  // 2. Eviction: the crypto store goes, the session stays. Reload so no connection holds it open.
  await page.evaluate(() => window.e2e.stopClient());
  await page.reload();
  await page.waitForFunction(() => window.e2e !== undefined);
  const deleted = await page.evaluate(() => window.e2e.deleteCryptoStore());
  if (!deleted.every((d) => d.endsWith('deleted'))) throw fail(`could not delete the crypto store: ${deleted}`, figures);

  // 3. Restart as production Cinny: crypto-health at entry, SDK logger off.
  const t0 = Date.now();
  const boot = await page.evaluate(() => window.e2e.boot());
  figures.consistency_finding = boot.finding && boot.finding.id;
  figures.consistency_level = boot.finding && boot.finding.level;
  if (!boot.finding || boot.finding.id !== 'crypto_store_missing' || boot.finding.level !== 'critical') {
    throw fail(`expected a critical crypto_store_missing finding at start, got ${JSON.stringify(boot.finding)}`, figures);
  }
  await page.evaluate(() => window.e2e.startClient({ loggerOff: true, pollTimeout: 1000 }));
  await until(page, "() => JSON.parse(window.e2e.report()).findings.some((f) => f.id === 'device_identity_replaced')", 60_000, 'identity-reset warning');
  figures.early_warning_ms = Date.now() - t0;
  await until(page, "() => window.e2e.api.otkHealth().phase === 'storm'", 90_000, 'storm detected');
  figures.storm_detected_ms = Date.now() - t0;
  // Let the loop go on for a few more rounds: still exactly one recovery event.
  await until(page, '() => window.e2e.api.otkHealth().uploads.conflicts >= 6', 60_000, 'three more conflicts');
  const s = await page.evaluate(() => ({
    health: window.e2e.api.otkHealth(),
    recoveries: window.e2e.recoveries.length,
    recovery: window.e2e.recoveries[0] ?? null,
    consoleEntries: window.e2e.api.getCryptoDiagEntries().filter((e) => e.level !== 'http' && !e.message.startsWith('HTTP ')).length,
  }));
  const h = s.health;
  Object.assign(figures, {
    outcome: h.outcome,
    phase: h.phase,
    conflicts: h.uploads.conflicts,
    key_id: h.proof && h.proof.keyId,
    counter: h.proof && h.proof.counter,
    diverged: h.proof && h.proof.diverged,
    old_key_differs: !!(h.proof && h.proof.oldKey && h.proof.newKey && h.proof.oldKey.key !== h.proof.newKey.key),
    trigger: h.trigger && h.trigger.kind,
    recovery_events: s.recoveries,
    console_kE_lines: s.consoleEntries,
  });
  log(`storm after ${figures.storm_detected_ms} ms: ${h.uploads.conflicts} conflicts on ${figures.key_id} (counter ${figures.counter}), outcome ${h.outcome}, trigger ${figures.trigger}`);
  if (h.proof === null || h.proof.source !== 'http') throw fail('no HTTP proof', figures);
  if (!(h.proof.diverged === true && figures.old_key_differs)) throw fail('divergence not proven', figures);
  if (h.proof.counter === null) throw fail('key id counter not decoded', figures);
  if (h.outcome !== 'unrecoverable') throw fail(`outcome ${h.outcome}, expected unrecoverable (identity replaced)`, figures);
  if (h.trigger === null || h.trigger.kind !== 'account_recreated') throw fail('trigger not account_recreated', figures);
  if (s.recoveries !== 1) throw fail(`recovery-needed fired ${s.recoveries} times`, figures);
  if (s.consoleEntries !== 0) throw fail('console lines were captured although the SDK logger was off', figures);

  // 4. The downloaded report: schema-valid, with the whole story.
  const [download] = await Promise.all([page.waitForEvent('download'), page.evaluate(() => window.e2e.download())]);
  const file = path.join(outDir, download.suggestedFilename());
  await download.saveAs(file);
  const report = JSON.parse(readFileSync(file, 'utf8'));
  validateReport(report);
  const ids2 = report.findings.map((f) => f.id);
  figures.report_file = path.relative(root, file);
  figures.report_findings = ids2.join(',');
  if (!ids2.includes('crypto_store_missing') || !ids2.includes('device_identity_replaced')) throw fail(`report findings: ${ids2}`, figures);
  if (!report.otkHealth || report.otkHealth.phase !== 'storm' || report.counts['KE-1'].count < 3) throw fail('report lacks the storm', figures);
  if (JSON.stringify(report).includes(await page.evaluate(() => localStorage.getItem('cinny_access_token')))) throw fail('access token in the report', figures);
  if (problems.length) log(`page problems (not failing): ${problems.slice(0, 3).join(' | ')}`);
  writeFileSync(path.join(outDir, 'recovery-needed.json'), JSON.stringify(s.recovery, null, 2));

  artifacts.storm = { context, page, user, password, deviceId: ids.deviceId, reportFile: file };
  return figures;
}
