// KE-4 on the real stack: matrix-js-sdk's own MatrixRTC MembershipManager (in the e2e page, SDK
// logger on) against the real Synapse with delayed events enabled (`max_event_delay_duration` in
// tests/e2e/synapse.mjs). Between them a loopback proxy makes the homeserver itself slow on the
// first delayed-event restarts: before it forwards one, it holds the write lock of Synapse's SQLite
// database for HOLD_MS, so Synapse's own access log shows the restart taking longer than the SDK's
// 2 s local timeout (matrix-js-sdk src/matrixrtc/MembershipManager.ts). Proven: the SDK's real
// timeout lines are captured, `delayed_events_slow` carries the latency the fetch tap measured, and
// `crypto-health triage` on that Synapse's log answers Q4 = homeserver latency.
import { spawn } from 'node:child_process';
import { createServer, request } from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { synapsePython } from '../synapse.mjs';
import { fail, openPage, until, validateReport } from '../lib/page.mjs';

export const name = 'ke4_delayed_event_latency';
export const order = 60;

const HOLD_MS = 2600; // past the SDK's 2000 ms local timeout
const HELD_RESTARTS = 3; // then the proxy lets restarts through: the loop is bounded

/** Hold SQLite's write lock for `ms`; resolves once the lock is taken. */
function lockDatabase(dbPath, ms) {
  const code = `import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
c.execute('BEGIN EXCLUSIVE')
print('locked', flush=True)
time.sleep(float(sys.argv[2]) / 1000)
c.execute('COMMIT')
`;
  return new Promise((resolve, reject) => {
    const child = spawn(synapsePython(), ['-c', code, dbPath, String(ms)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.once('data', () => resolve(child));
    child.on('exit', (c) => { if (c !== 0) reject(new Error(`lock helper exited ${c}: ${err}`)); });
  });
}

/** A loopback proxy to Synapse that makes the homeserver slow on the first restarts. */
function startProxy(target, dbPath) {
  const held = [];
  const t = new URL(target);
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const isRestart = req.method === 'POST' && /\/delayed_events\/[^/?]+(\/restart)?(\?|$)/.test(req.url)
        && (req.url.includes('/restart') || body.toString().includes('"restart"'));
      if (isRestart && held.length < HELD_RESTARTS) {
        held.push({ at: Date.now(), url: req.url.replace(/\?.*/, '') });
        try { await lockDatabase(dbPath, HOLD_MS); } catch (e) { held.at(-1).error = String(e); }
      }
      const fwd = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      });
      fwd.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
      fwd.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, held, close: () => server.close() })));
}

export async function run(ctx) {
  const { synapse, log, outDir, exec, artifacts } = ctx;
  if (!synapse.dbPath) throw new Error('needs the SQLite Synapse (the proxy locks its database)');
  const proxy = await startProxy(synapse.baseUrl, synapse.dbPath);
  artifacts.cleanups = artifacts.cleanups ?? [];
  artifacts.cleanups.push(() => proxy.close());
  const user = `ke4_${Date.now()}`;
  await synapse.registerUser(user, 'pw');
  const { page, problems, context } = await openPage(ctx);
  artifacts.cleanups.push(() => context.close());
  await page.evaluate(() => window.e2e.boot());
  await page.evaluate(([u, b]) => window.e2e.login(b, u, 'pw'), [user, proxy.url]);
  await page.evaluate(() => window.e2e.startClient({ loggerOff: false }));
  const roomId = await page.evaluate(() => window.e2e.createEncryptedRoom([]));
  await until(page, `() => window.e2e.mx.getRoom(${JSON.stringify(roomId)})`, 20_000, 'the room');
  const t0 = Date.now();
  await page.evaluate(([r]) => window.e2e.joinRtc(r, { delayedLeaveEventRestartMs: 1000, delayedLeaveEventDelayMs: 20_000 }), [roomId]);
  // The SDK's own timeout line, once per held restart: `ke4.local_timeout_retry` as matrix-js-sdk
  // 37.5..42.3 words it, `ke4.local_timeout_retry_uncounted` from 42.4 (retried at once, not counted).
  await until(page, `() => window.e2e.api.getCryptoDiagEntries().filter((e) => e.signature.startsWith('ke4.local_timeout_retry')).reduce((n, e) => n + 1 + e.repeats, 0) >= ${HELD_RESTARTS}`, 60_000, 'the SDK local timeout lines');
  await until(page, `() => window.e2e.api.getCryptoDiagFindings().some((f) => f.id === 'delayed_events_slow' && f.evidence.maxMs > 2000)`, 20_000, 'the delayed_events_slow finding');
  const joinedMs = Date.now() - t0;
  await page.evaluate(() => window.e2e.leaveRtc());
  const report = JSON.parse(await page.evaluate(() => window.e2e.report()));
  validateReport(report);
  const reportFile = path.join(outDir, 'report.json');
  writeFileSync(reportFile, JSON.stringify(report, null, 2));
  const slow = report.findings.find((f) => f.id === 'delayed_events_slow');
  const timeouts = report.entries.filter((e) => e.signature.startsWith('ke4.local_timeout_retry'));
  const build = await exec('cargo', ['build', '-q', '-p', 'crypto-health-cli']);
  if (build.code !== 0) throw new Error(`cargo build -p crypto-health-cli failed:\n${build.stderr.slice(-3000)}`);
  const tr = await exec(path.join('target', 'debug', 'crypto-health'), ['triage', '--json', '--report', reportFile, '--synapse-log', synapse.logPath]);
  writeFileSync(path.join(outDir, 'triage.json'), tr.stdout || tr.stderr);
  if (tr.code !== 0) throw new Error(`triage exited ${tr.code}: ${tr.stderr}`);
  const doc = JSON.parse(tr.stdout);
  const q4 = doc.questions.find((q) => q.id === 'Q4');
  const ke4 = doc.conclusions.find((c) => c.ke === 'KE-4');
  const figures = {
    held_restarts: proxy.held.length,
    hold_ms: HOLD_MS,
    timeout_lines: timeouts.reduce((n, e) => n + 1 + e.repeats, 0),
    timeout_line: timeouts[0] ? timeouts[0].message.slice(0, 120) : null,
    timeout_signature: timeouts[0] ? timeouts[0].signature : null,
    finding_max_ms: slow ? slow.evidence.maxMs : null,
    finding_over_local_timeout: slow ? slow.evidence.overLocalTimeout : null,
    http_delayed_requests: report.http ? report.http.delayedEvents.requests : null,
    q4: q4 && q4.answer,
    q4_worst_s: q4 && q4.details && q4.details.worstSeconds,
    q4_client_max_ms: q4 && q4.details && q4.details.clientMaxMs,
    ke4: ke4 && ke4.status,
    run_ms: joinedMs,
    page_problems: problems.length,
  };
  log(`held ${figures.held_restarts} restarts ${HOLD_MS} ms: ${figures.timeout_lines} SDK timeout lines, finding maxMs ${figures.finding_max_ms}, Q4=${figures.q4} (worst ${figures.q4_worst_s} s), KE-4 ${figures.ke4}`);
  if (proxy.held.some((h) => h.error)) throw fail(`lock helper failed: ${proxy.held.map((h) => h.error).join('; ')}`, figures);
  if (figures.timeout_lines < HELD_RESTARTS) throw fail('the SDK timeout lines must be in the report', figures);
  if (!(figures.finding_max_ms >= HOLD_MS - 200)) throw fail('delayed_events_slow must carry the measured latency', figures);
  if (figures.q4 !== 'yes' || !(figures.q4_worst_s >= 2)) throw fail('triage on the Synapse log must answer Q4 = yes (homeserver latency)', { ...figures, q4 });
  if (!ke4 || !/homeserver/.test(JSON.stringify(ke4))) throw fail('KE-4 must conclude homeserver latency', { ...figures, ke4 });
  return figures;
}
