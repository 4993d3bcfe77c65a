// `crypto-health triage` on the report the browser downloaded in eviction_storm_detected (real
// matrix-js-sdk, real storm), with the same Synapse's database and log, before the device is
// logged out: triage's Q1 (docs/TRIAGE.md) must be yes with the proof's key id, and the forensics must say the
// conflicting server key was signed by a previous identity (the store was reset under the device id).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail } from '../lib/page.mjs';

export const name = 'triage_browser_report';
export const order = 45;

export async function run({ synapse, log, outDir, artifacts, exec }) {
  const storm = artifacts.storm;
  if (!storm) throw new Error('needs the report from eviction_storm_detected (run it first)');
  const build = await exec('cargo', ['build', '-q', '-p', 'crypto-health-cli']);
  if (build.code !== 0) throw new Error(`cargo build -p crypto-health-cli failed:\n${build.stderr.slice(-3000)}`);
  const r = await exec(path.join('target', 'debug', 'crypto-health'), [
    'triage', '--json', '--report', storm.reportFile, '--synapse-db', synapse.dbPath, '--synapse-log', synapse.logPath,
  ]);
  writeFileSync(path.join(outDir, 'triage.json'), r.stdout || r.stderr);
  if (r.code !== 0) throw new Error(`triage exited ${r.code}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout);
  const q1 = doc.questions.find((q) => q.id === 'Q1');
  const f = doc.forensics && doc.forensics.ke1;
  const firstSafe = doc.remediations.filter((x) => x.firstSafe).map((x) => x.id);
  const figures = {
    q1: q1 && q1.answer,
    key_id: q1 && q1.details && q1.details.keyId,
    forensics: f && f.verdict,
    first_safe: firstSafe.join(','),
    evidence_sources: q1 ? [...new Set(q1.evidence.map((e) => e.source.split(' ')[0]))].join(',') : null,
    triage_ms: r.ms,
  };
  log(`Q1=${figures.q1} key ${figures.key_id}, forensics ${figures.forensics}, first safe ${figures.first_safe}`);
  if (figures.q1 !== 'yes' || figures.key_id !== 'AAAAAAAAAA0') throw fail('Q1 must be yes with the key id of the browser proof', figures);
  if (figures.forensics !== 'previous_identity') throw fail('forensics must find a previous identity', figures);
  if (figures.first_safe !== 'device_relogin') throw fail('first safe remediation must be device_relogin', figures);
  return figures;
}
