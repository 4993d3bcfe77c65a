// `crypto-health triage` on the database and log the real Synapse holds after the native KE-1
// reproduction (native_olmmachine_conflict runs first and leaves its report and ids behind).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const name = 'triage_real_synapse';
export const order = 20;

function check(cond, msg, doc) {
  if (!cond) throw new Error(`${msg}${doc ? `\n${JSON.stringify(doc, null, 2).slice(0, 4000)}` : ''}`);
}

export async function run({ synapse, log, outDir, artifacts, exec }) {
  const ke1 = artifacts.ke1;
  check(ke1, 'needs the artifacts of native_olmmachine_conflict (run it in the same e2e run)');
  const build = await exec('cargo', ['build', '-q', '-p', 'crypto-health-cli']);
  check(build.code === 0, `cargo build -p crypto-health-cli failed:\n${build.stderr.slice(-3000)}`);
  const bin = path.join('target', 'debug', 'crypto-health');
  const triage = async (label, args) => {
    const r = await exec(bin, ['triage', '--json', ...args]);
    writeFileSync(path.join(outDir, `${label}.json`), r.stdout || r.stderr);
    check(r.code === 0, `${label}: triage exited ${r.code}: ${r.stderr}`);
    return { doc: JSON.parse(r.stdout), ms: r.ms };
  };
  const q = (doc, id) => doc.questions.find((x) => x.id === id);
  const concl = (doc, ke) => doc.conclusions.find((c) => c.ke === ke);
  const server = ['--synapse-db', synapse.dbPath, '--synapse-log', synapse.logPath];
  const keyId = ke1.figures.key_id;

  // 1. The reproduced KE-1 device: Q1 = yes with the key id, forensics: a previous identity.
  const a = await triage('ke1', ['--report', ke1.report, ...server]);
  check(q(a.doc, 'Q1').answer === 'yes', 'KE-1 device: Q1 must be yes', q(a.doc, 'Q1'));
  check(q(a.doc, 'Q1').details.keyId === keyId, `Q1 key id must be ${keyId}`, q(a.doc, 'Q1'));
  check(q(a.doc, 'Q1').evidence.some((e) => e.source.includes('e2e_one_time_keys_json') && e.text.includes(keyId)), 'Q1 evidence must quote the DB row');
  check(concl(a.doc, 'KE-1').status === 'confirmed', 'KE-1 confirmed', a.doc.conclusions);
  const f = a.doc.forensics.ke1;
  check(f && f.verdict === 'previous_identity', 'forensics: previous identity', f);
  check(f.newKeySignedBy.some((s) => s.includes('e2e_device_keys_json')), 'the server already holds the new identity (element-hq/synapse synapse/handlers/e2e_keys.py)', f);
  const firstSafe = a.doc.remediations.filter((r) => r.firstSafe).map((r) => r.id);
  check(firstSafe.length === 1 && firstSafe[0] === 'device_relogin', 'first safe remediation: device_relogin', a.doc.remediations);
  check(!a.doc.remediations.find((r) => r.id === 'otk_row_surgery').applies, 'row surgery never applies by default');
  log(`KE-1: Q1=yes key ${keyId}, forensics ${f.verdict} (${a.ms} ms)`);

  // 2. The report's HTTP tap saw both identities (otkHealth.identity): the old key verifies with the first one.
  const b = await triage('ke1-identity', ['--report', ke1.httpReport, ...server]);
  const fb = b.doc.forensics.ke1;
  check(fb.verdict === 'previous_identity' && fb.oldKeySignedBy.some((s) => s.includes('otkHealth.identity.known')), 'old key must verify with the identity first seen', fb);
  check(fb.newKeySignedBy.some((s) => s.includes('otkHealth.identity.replacedBy')), 'new key must verify with the identity that replaced it', fb);

  // 3. A healthy device: no KE-1.
  const h = await triage('healthy', ['--report', ke1.healthyReport, ...server]);
  check(q(h.doc, 'Q1').answer === 'no', 'healthy device: Q1 must be no', q(h.doc, 'Q1'));
  check(concl(h.doc, 'KE-1').status === 'excluded', 'healthy: KE-1 excluded', h.doc.conclusions);
  check(h.doc.remediations.every((r) => !r.firstSafe && !r.applies), 'healthy: no remediation applies', h.doc.remediations);

  // 4. A missing report field (no session ids, the 400 cut before the keys): unknown, not a guess.
  const cut = JSON.parse(readFileSync(ke1.report, 'utf8'));
  cut.session.userId = null;
  cut.session.deviceId = null;
  for (const e of cut.entries) Object.assign(e.fields, { old_key: null, new_key: null, diverged: null });
  const cutPath = path.join(outDir, 'ke1-report-cut.json');
  writeFileSync(cutPath, JSON.stringify(cut));
  const c = await triage('cut', ['--report', cutPath, '--synapse-db', synapse.dbPath]);
  check(q(c.doc, 'Q1').answer === 'unknown', 'cut report without ids: Q1 must be unknown', q(c.doc, 'Q1'));
  check(q(c.doc, 'Q1').toSettle.length > 0, 'an unknown says what would settle it');
  //    ... and --user/--device settle it against the database.
  const d = await triage('cut-with-ids', ['--report', cutPath, '--synapse-db', synapse.dbPath, '--user', ke1.figures.user_id, '--device', ke1.figures.device_id]);
  check(q(d.doc, 'Q1').answer === 'yes', 'with --user/--device the database settles Q1', q(d.doc, 'Q1'));

  // 5. Log only: a report without the conflict line; the real Synapse log names it.
  const quiet = JSON.parse(readFileSync(ke1.healthyReport, 'utf8'));
  quiet.session.userId = ke1.figures.user_id;
  quiet.session.deviceId = ke1.figures.device_id;
  const quietPath = path.join(outDir, 'ke1-report-quiet.json');
  writeFileSync(quietPath, JSON.stringify(quiet));
  const e = await triage('log-only', ['--report', quietPath, '--synapse-log', synapse.logPath]);
  check(q(e.doc, 'Q1').answer === 'yes' && q(e.doc, 'Q1').details.keyId === keyId, 'the Synapse log alone must show the conflict', q(e.doc, 'Q1'));
  check(q(e.doc, 'Q1').evidence.some((x) => /homeserver\.log:\d+/.test(x.source)), 'evidence cites the log line');

  return {
    key_id: q(a.doc, 'Q1').details.keyId,
    q1_ke1: q(a.doc, 'Q1').answer,
    q1_healthy: q(h.doc, 'Q1').answer,
    q1_missing_field: q(c.doc, 'Q1').answer,
    forensics: f.verdict,
    first_safe: firstSafe[0],
    triage_ms: a.ms,
    build_ms: build.ms,
  };
}
