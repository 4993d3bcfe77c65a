// A client WITHOUT a crypto-health report (what Element Web on the same server leaves behind):
// Chromium records a HAR (Playwright recordHar) of the real eviction storm — matrix-js-sdk with
// its rust crypto against the run's Synapse — plus MatrixRTC-style delayed-event calls (send a
// delayed state event, restart it, as the MembershipManager does). `crypto-health triage --har
// FILE --synapse-db DB` must answer Q1 = yes with the key id Synapse named, Q4 from the delayed
// calls' timings, and print nothing of the HAR's access tokens.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail, openPage, until } from '../lib/page.mjs';

export const name = 'triage_har';
export const order = 50;

export async function run(ctx) {
  const { synapse, log, outDir, exec } = ctx;
  const figures = {};
  const build = await exec('cargo', ['build', '-q', '-p', 'crypto-health-cli']);
  if (build.code !== 0) throw fail(`cargo build -p crypto-health-cli failed:\n${build.stderr.slice(-3000)}`, figures);
  const bin = path.join('target', 'debug', 'crypto-health');
  const user = `har${Date.now().toString(36)}`;
  await synapse.registerUser(user, 'e2e-har-pw');

  const harPath = path.join(outDir, 'storm.har');
  const browser = await ctx.browser();
  const context = await browser.newContext({ recordHar: { path: harPath, content: 'embed', urlFilter: /\/_matrix\// } });
  let closed = false;
  (ctx.artifacts.cleanups ??= []).push(() => !closed && context.close());
  const { page } = await openPage(ctx, { context });
  await page.evaluate(() => window.e2e.boot());
  const ids = await page.evaluate(([b, u, p]) => window.e2e.login(b, u, p), [synapse.baseUrl, user, 'e2e-har-pw']);
  await page.evaluate(() => window.e2e.startClient({ loggerOff: false }));
  await until(page, '() => window.e2e.api.otkHealth().uploads.accepted >= 1', 60_000, 'first keys/upload accepted');
  // Eviction: the crypto store goes, the session stays; the client restarts and storms.
  await page.evaluate(() => window.e2e.stopClient());
  await page.reload();
  await page.waitForFunction(() => window.e2e !== undefined);
  await page.evaluate(() => window.e2e.deleteCryptoStore());
  await page.evaluate(() => window.e2e.boot());
  await page.evaluate(() => window.e2e.startClient({ loggerOff: true, pollTimeout: 1000 }));
  await until(page, '() => window.e2e.api.otkHealth().uploads.conflicts >= 3', 90_000, 'three KE-1 400s');
  const seen = await page.evaluate(() => window.e2e.api.otkHealth().proof?.keyId ?? null);
  // MatrixRTC's delayed events, over the same session: a delayed state event, then restarts.
  const delayed = await page.evaluate(async (base) => {
    const token = localStorage.getItem('cinny_access_token');
    const call = async (method, p, body) => {
      const r = await fetch(base + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: await r.json() };
    };
    const room = await call('POST', '/_matrix/client/v3/createRoom', { preset: 'private_chat' });
    const d = await call('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}/state/org.matrix.msc3401.call.member/_e2e?org.matrix.msc4140.delay=60000`, {});
    const restarts = [];
    for (let i = 0; i < 3; i++) restarts.push((await call('POST', `/_matrix/client/unstable/org.matrix.msc4140/delayed_events/${d.body.delay_id}`, { action: 'restart' })).status);
    return { send: d.status, delayId: d.body.delay_id, restarts, token };
  }, synapse.baseUrl);
  if (delayed.send !== 200 || delayed.restarts.some((s) => s !== 200)) throw fail(`delayed events: ${JSON.stringify({ ...delayed, token: undefined })}`, figures);
  await page.evaluate(() => window.e2e.stopClient());
  await context.close(); // writes the HAR
  closed = true;

  const har = readFileSync(harPath, 'utf8');
  const token = delayed.token;
  if (!har.includes(token)) throw fail('the HAR should carry the access token (Authorization headers): the test would prove nothing', figures);
  const entries = JSON.parse(har).log.entries;
  figures.har_entries = entries.length;
  figures.har_keys_upload_400 = entries.filter((e) => e.request.url.includes('/keys/upload') && e.response.status === 400).length;
  log(`HAR: ${entries.length} entries, ${figures.har_keys_upload_400} keys/upload 400s, device ${ids.deviceId}, key ${seen}`);

  const args = ['triage', '--har', harPath, '--synapse-db', synapse.dbPath];
  const j = await exec(bin, [...args, '--json']);
  writeFileSync(path.join(outDir, 'triage.json'), j.stdout || j.stderr);
  if (j.code !== 0) throw fail(`triage exited ${j.code}: ${j.stderr}`, figures);
  const t = await exec(bin, args);
  writeFileSync(path.join(outDir, 'triage.txt'), t.stdout || t.stderr);
  for (const out of [j.stdout, j.stderr, t.stdout, t.stderr]) {
    if (out.includes(token)) throw fail('an access token from the HAR is in the triage output', figures);
    if (/syt_[A-Za-z0-9_]{10,}/.test(out)) throw fail('a Synapse token shape is in the triage output', figures);
  }
  const doc = JSON.parse(j.stdout);
  const q = (id) => doc.questions.find((x) => x.id === id);
  Object.assign(figures, {
    q1: q('Q1').answer, key_id: q('Q1').details.keyId, q4: q('Q4').answer,
    forensics: doc.forensics.ke1?.verdict ?? null, subject: `${doc.subject.userId} ${doc.subject.deviceId}`,
    delayed_calls: q('Q4').details.harDelayedCalls,
  });
  if (doc.inputs.report !== null) throw fail('no report was given', figures);
  if (doc.subject.userId !== `@${user}:localhost` || doc.subject.deviceId !== ids.deviceId) throw fail('the subject must come from the HAR', figures);
  if (q('Q1').answer !== 'yes' || q('Q1').details.keyId !== seen) throw fail(`Q1 must be yes with ${seen}: ${JSON.stringify(q('Q1'), null, 2)}`, figures);
  if (!q('Q1').evidence.some((e) => e.source.includes('har entries[') && e.text.includes('one_time_keys'))) throw fail('Q1 must quote the HAR request', figures);
  if (!q('Q1').evidence.some((e) => e.source.includes('e2e_one_time_keys_json') && e.text.includes(seen))) throw fail('Q1 must quote the stored row', figures);
  if (q('Q4').answer !== 'no' || q('Q4').details.harDelayedCalls < 4) throw fail(`Q4 must be answered from the delayed calls: ${JSON.stringify(q('Q4'), null, 2)}`, figures);
  if (doc.forensics.ke1?.verdict !== 'previous_identity') throw fail(`forensics: ${JSON.stringify(doc.forensics)}`, figures);
  if (!t.stdout.includes('first safe step')) throw fail('text output names the first safe step', figures);
  return figures;
}
