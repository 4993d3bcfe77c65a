// `crypto-health triage --synapse-db postgresql://…`: KE-1 reproduced on a real Synapse running on
// PostgreSQL, and the very same keys replayed on the run's SQLite Synapse; triage over both must
// give the same answers, evidence and forensics verdict. The PostgreSQL password comes from a
// password file (PGPASSFILE) and never appears in the output.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { reproduce, uploadBody, newIdentity, upload } from '../lib/ke1.mjs';
import { pgSynapse } from '../lib/pg-synapse.mjs';

export const name = 'triage_postgres';
export const order = 40;

function check(cond, msg, doc) {
  if (!cond) throw new Error(`${msg}${doc ? `\n${JSON.stringify(doc, null, 2).slice(0, 4000)}` : ''}`);
}

/** The triage document with what legitimately differs between two servers masked. */
function comparable(doc, dbLabel) {
  const norm = (s) => String(s).split(dbLabel).join('DB').replace(/homeserver\.log:\d+/g, 'LOG').replace(/ts_added_ms=\d+/g, 'ts_added_ms=T')
    // A log line's own time, object address and listener port differ between two servers.
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}/g, 'TIME').replace(/0x[0-9a-f]+/g, '0x…').replace(/site='\d+'/g, "site='…'")
    // ... and so does its request counter (how many requests that server had served).
    .replace(/ - [A-Z]+-\d+ - /g, ' - REQ - ');
  // A quoted line is cut at a byte count, so the counter's width moves the cut: compare its head.
  const quoteHead = (source, text) => (source.includes('homeserver.log') ? norm(text).slice(0, 300) : norm(text));
  return {
    questions: doc.questions.map((q) => ({
      id: q.id, answer: q.answer, finding: norm(q.finding), toSettle: q.toSettle.map(norm),
      details: norm(JSON.stringify({ ...q.details, proofSource: undefined })),
      evidence: q.evidence.map((e) => `${norm(e.source)} | ${quoteHead(e.source, e.text)}`),
    })),
    forensics: doc.forensics.ke1 && norm(JSON.stringify(doc.forensics.ke1)),
    conclusions: doc.conclusions.map((c) => `${c.ke} ${c.status} ${norm(c.summary)}`),
    remediations: doc.remediations.map((r) => `${r.id} ${r.applies} ${r.firstSafe}`),
  };
}

export async function run(ctx) {
  const { synapse, log, outDir, exec } = ctx;
  const build = await exec('cargo', ['build', '-q', '-p', 'crypto-health-cli']);
  check(build.code === 0, `cargo build -p crypto-health-cli failed:\n${build.stderr.slice(-3000)}`);
  const bin = path.join('target', 'debug', 'crypto-health');
  const { hs: pgHs, password, pgpass, keyValue } = await pgSynapse(ctx);

  // The same user, device and keys on both servers (both are named `localhost`).
  const user = `ke1pg${Date.now().toString(36)}`;
  const device = 'KE1PGDEVICE';
  const pw = 'e2e-pg-pw';
  const healthyUser = `${user}ok`;
  const onPg = await (async () => {
    await pgHs.registerUser(user, pw);
    await pgHs.registerUser(healthyUser, pw);
    return pgHs.login(user, pw, device);
  })();
  const ke1Pg = await reproduce(pgHs.baseUrl, onPg, { n: 5, storm: 3 });
  await synapse.registerUser(user, pw);
  await synapse.registerUser(healthyUser, pw);
  const onLite = await synapse.login(user, pw, device);
  const ke1Lite = await reproduce(synapse.baseUrl, onLite, { storm: 3, first: ke1Pg.first, second: ke1Pg.second });
  check(ke1Lite.keyId === ke1Pg.keyId, `both servers must name the same key: ${ke1Lite.keyId} vs ${ke1Pg.keyId}`);
  // A healthy device on each: one accepted upload.
  const healthyId = newIdentity();
  for (const hs of [pgHs, synapse]) {
    const s = await hs.login(healthyUser, pw, 'HEALTHYDEV');
    const r = await upload(hs.baseUrl, s.accessToken, uploadBody(healthyId, s.userId, 'HEALTHYDEV', { n: 3 }));
    check(r.status === 200, `healthy upload: ${r.status}`);
  }
  log(`KE-1 reproduced on both servers: ${onPg.userId} ${device}, key ${ke1Pg.keyId}, 3 × 400 each`);

  const triage = async (label, args, env = {}) => {
    const r = await exec(bin, ['triage', '--json', ...args], { env });
    writeFileSync(path.join(outDir, `${label}.json`), r.stdout || r.stderr);
    check(r.code === 0, `${label}: triage exited ${r.code}: ${r.stderr}`);
    check(!r.stdout.includes(password) && !r.stderr.includes(password), `${label}: the PostgreSQL password is in the output`);
    return { doc: JSON.parse(r.stdout), ms: r.ms };
  };
  const q = (doc, id) => doc.questions.find((x) => x.id === id);
  const subject = ['--user', onPg.userId, '--device', device];
  const pgEnv = { PGPASSFILE: pgpass };

  const pgDoc = await triage('ke1-postgres', ['--synapse-db', pgHs.dbUrl, '--synapse-log', pgHs.logPath, ...subject], pgEnv);
  const liteDoc = await triage('ke1-sqlite', ['--synapse-db', synapse.dbPath, '--synapse-log', synapse.logPath, ...subject]);
  const pgSource = pgDoc.doc.inputs.synapseDb.source;
  check(pgSource.startsWith(`db postgresql synapse@127.0.0.1:`), `PostgreSQL source label: ${pgSource}`);
  const liteSource = liteDoc.doc.inputs.synapseDb.source;

  const a = pgDoc.doc;
  check(q(a, 'Q1').answer === 'yes' && q(a, 'Q1').details.keyId === ke1Pg.keyId, 'PostgreSQL: Q1 = yes with the reproduced key id', q(a, 'Q1'));
  check(q(a, 'Q1').evidence.some((e) => e.source.includes('e2e_one_time_keys_json') && e.source.includes('db postgresql') && e.text.includes(ke1Pg.keyId)), 'Q1 quotes the PostgreSQL row', q(a, 'Q1'));
  const f = a.forensics.ke1;
  check(f && f.verdict === 'previous_identity', 'PostgreSQL forensics: previous identity', f);
  check(f.newKeySignedBy.some((s) => s.includes('e2e_device_keys_json')), 'the server already holds the new identity', f);
  check(a.remediations.filter((r) => r.firstSafe).map((r) => r.id).join() === 'device_relogin', 'first safe step: device_relogin', a.remediations);

  const cp = comparable(a, pgSource);
  const cl = comparable(liteDoc.doc, liteSource);
  writeFileSync(path.join(outDir, 'comparable.json'), JSON.stringify({ postgres: cp, sqlite: cl }, null, 2));
  check(JSON.stringify(cp) === JSON.stringify(cl), 'triage over PostgreSQL and over SQLite must agree (target/e2e/triage_postgres/comparable.json)', { postgres: cp, sqlite: cl });

  // The healthy device: Q1 = no on both.
  const hp = await triage('healthy-postgres', ['--synapse-db', keyValue, '--synapse-log', pgHs.logPath, '--user', onPg.userId.replace(user, healthyUser), '--device', 'HEALTHYDEV']);
  const hl = await triage('healthy-sqlite', ['--synapse-db', synapse.dbPath, '--synapse-log', synapse.logPath, '--user', onPg.userId.replace(user, healthyUser), '--device', 'HEALTHYDEV']);
  check(q(hp.doc, 'Q1').answer === 'no' && q(hl.doc, 'Q1').answer === 'no', 'healthy: Q1 = no on both', [q(hp.doc, 'Q1'), q(hl.doc, 'Q1')]);
  check(hp.doc.inputs.synapseDb.source.includes('/sock:'), 'key=value over the unix socket', hp.doc.inputs.synapseDb);

  // Without the password file, over TCP: a clear error, exit 1, no password.
  const noPw = await exec(bin, ['triage', '--synapse-db', pgHs.dbUrl, ...subject], { env: { PGPASSFILE: path.join(outDir, 'none') } });
  check(noPw.code === 1 && /cannot connect/.test(noPw.stderr) && !noPw.stderr.includes(password), `no password: exit ${noPw.code}: ${noPw.stderr}`);

  return {
    key_id: ke1Pg.keyId,
    q1_postgres: q(a, 'Q1').answer,
    q1_sqlite: q(liteDoc.doc, 'Q1').answer,
    forensics_postgres: f.verdict,
    forensics_sqlite: liteDoc.doc.forensics.ke1?.verdict,
    same_answers: true,
    triage_ms_postgres: pgDoc.ms,
    triage_ms_sqlite: liteDoc.ms,
    pg_source: pgSource,
  };
}
