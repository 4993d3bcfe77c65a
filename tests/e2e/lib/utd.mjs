// Shared by the UTD scenarios: a page user whose client's decryption results crypto-health
// watches (watchDecryption), the report's `decryption` section read from the page, and
// `crypto-health triage` on the run's Synapse.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openPage, until, validateReport } from './page.mjs';

/** Log a fresh user into a fresh page, start the client (SDK logger on, as Cinny v4.12.6) and watch it. */
export async function watchedUser(ctx, prefix) {
  const user = `${prefix}${Date.now().toString(36)}`;
  const password = `e2e-${prefix}-pw`;
  await ctx.synapse.registerUser(user, password);
  const { context, page, problems } = await openPage(ctx);
  ctx.artifacts.cleanups.push(() => context.close());
  await page.evaluate(() => window.e2e.boot());
  const ids = await page.evaluate(([b, u, p]) => window.e2e.login(b, u, p), [ctx.synapse.baseUrl, user, password]);
  await page.evaluate(() => window.e2e.startClient({ loggerOff: false }));
  const watched = await page.evaluate(() => typeof window.e2e.api.watchDecryption(window.e2e.mx) === 'function');
  if (!watched) throw new Error('watchDecryption did not return an unsubscribe function');
  return { page, context, problems, user, password, ...ids };
}

/** The report as the page builds it, schema-validated, saved as `<name>.json` in the scenario's dir. */
export async function reportOf(ctx, page, name) {
  const text = await page.evaluate(() => window.e2e.report());
  const report = JSON.parse(text);
  validateReport(report);
  const file = path.join(ctx.outDir, `${name}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  return { report, file };
}

/** Wait until the page's report says `cause` counts at least `n` events. */
export function untilCause(page, cause, n, ms) {
  return until(page, `() => ((JSON.parse(window.e2e.report()).decryption || {}).causes || {})[${JSON.stringify(cause)}]?.count >= ${n}`, ms, `${n} event(s) counted as ${cause}`);
}

/** A raw Client-Server PUT of an event (bypasses every client-side check). */
export async function sendRaw(synapse, token, roomId, type, content) {
  const txn = `utd${Date.now()}${Math.random().toString(36).slice(2)}`;
  const res = await fetch(`${synapse.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${encodeURIComponent(type)}/${txn}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(content),
  });
  const body = await res.json().catch(() => null);
  if (res.status !== 200 || !body?.event_id) throw new Error(`PUT send/${type}: ${res.status} ${JSON.stringify(body)}`);
  return body.event_id;
}

export async function joinRaw(synapse, token, roomId) {
  const res = await fetch(`${synapse.baseUrl}/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{}',
  });
  if (res.status !== 200) throw new Error(`join ${roomId}: ${res.status} ${await res.text()}`);
}

/** `crypto-health triage --json` (built once per run). */
export async function triage(ctx, args) {
  if (!ctx.artifacts.cliBuilt) {
    const b = await ctx.exec('cargo', ['build', '-q', '-p', 'crypto-health-cli']);
    if (b.code !== 0) throw new Error(`cargo build -p crypto-health-cli failed:\n${b.stderr.slice(-3000)}`);
    ctx.artifacts.cliBuilt = true;
  }
  const r = await ctx.exec(path.join('target', 'debug', 'crypto-health'), ['triage', '--json', ...args]);
  if (r.code !== 0) throw new Error(`triage exited ${r.code}: ${r.stderr}`);
  return { doc: JSON.parse(r.stdout), ms: r.ms, text: r.stdout };
}
