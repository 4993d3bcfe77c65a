// No false alarms: two users on the real stack, an encrypted room, messages both ways over
// several sync cycles, with the SDK logger on (every console line goes past the capture).
// crypto-health must report zero KE failures, no findings and a healthy OTK state for both.
import { fail, openPage, until, validateReport } from '../lib/page.mjs';

export const name = 'healthy_session_no_findings';
export const order = 20;

export async function run(ctx) {
  const { synapse, log } = ctx;
  const suffix = Date.now().toString(36);
  const users = [`alice${suffix}`, `bob${suffix}`];
  const password = 'e2e-healthy-pw';
  const pages = [];
  for (const u of users) {
    await synapse.registerUser(u, password);
    const p = await openPage(ctx);
    ctx.artifacts.cleanups.push(() => p.context.close());
    await p.page.evaluate(() => window.e2e.boot());
    await p.page.evaluate(([b, u2, pw]) => window.e2e.login(b, u2, pw), [synapse.baseUrl, u, password]);
    await p.page.evaluate(() => window.e2e.startClient({ loggerOff: false, pollTimeout: 1000 }));
    await until(p.page, '() => window.e2e.api.otkHealth().uploads.accepted >= 1', 60_000, 'keys uploaded');
    pages.push(p);
  }
  const [a, b] = pages.map((p) => p.page);
  const bobId = `@${users[1]}:${synapse.serverName}`;
  const roomId = await a.evaluate((id) => window.e2e.createEncryptedRoom([id]), bobId);
  await b.evaluate((r) => window.e2e.join(r), roomId);
  const sent = [];
  for (let i = 0; i < 3; i++) {
    sent.push(`from alice ${i}`);
    await a.evaluate(([r, t]) => window.e2e.send(r, t), [roomId, sent.at(-1)]);
    sent.push(`from bob ${i}`);
    await b.evaluate(([r, t]) => window.e2e.send(r, t), [roomId, sent.at(-1)]);
  }
  // Both sides decrypt everything.
  for (const p of [a, b]) {
    await p.waitForFunction(([r, want]) => window.e2e.texts(r).then((t) => want.every((w) => t.includes(w))), [roomId, sent], { timeout: 60_000, polling: 200 });
  }
  // A few more sync cycles with nothing happening.
  for (const p of [a, b]) {
    const n0 = await p.evaluate(() => window.e2e.syncs);
    await until(p, `() => window.e2e.syncs >= ${n0 + 3}`, 30_000, '3 quiet syncs');
  }
  const figures = { room: roomId, messages: sent.length };
  for (const [i, p] of [a, b].entries()) {
    const r = await p.evaluate(() => ({ report: JSON.parse(window.e2e.report()), health: window.e2e.api.otkHealth(), recoveries: window.e2e.recoveries.length }));
    validateReport(r.report);
    const failures = Object.entries(r.report.counts).filter(([k]) => k !== 'other').reduce((n, [, c]) => n + c.failures, 0);
    const who = i === 0 ? 'alice' : 'bob';
    Object.assign(figures, {
      [`${who}_ke_failures`]: failures,
      [`${who}_findings`]: r.report.findings.length,
      [`${who}_outcome`]: r.health.outcome,
      [`${who}_uploads_accepted`]: r.health.uploads.accepted,
      [`${who}_lines_seen`]: r.report.capture.linesSeen,
      [`${who}_recoveries`]: r.recoveries,
    });
    log(`${who}: ${r.report.capture.linesSeen} console lines seen, ${failures} KE failures, ${r.report.findings.length} findings, otk ${r.health.outcome}`);
    if (failures !== 0) throw fail(`${who}: ${failures} KE failures on a healthy session: ${JSON.stringify(r.report.entries.slice(0, 3))}`, figures);
    if (r.report.findings.length !== 0) throw fail(`${who}: findings on a healthy session: ${r.report.findings.map((f) => f.id)}`, figures);
    if (r.health.outcome !== 'healthy' || r.recoveries !== 0) throw fail(`${who}: otk ${r.health.outcome}`, figures);
    if (r.report.capture.linesSeen < 10) throw fail(`${who}: the SDK logger was on but few lines were seen`, figures);
  }
  // Stop both clients: later scenarios count requests in Synapse's log.
  for (const p of pages) {
    await p.page.evaluate(() => window.e2e.stopClient());
    await p.context.close();
  }
  return figures;
}
