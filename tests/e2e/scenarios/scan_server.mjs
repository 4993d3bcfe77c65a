// `crypto-health scan` on a real Synapse on PostgreSQL with over a hundred users: a known few
// devices in the KE-1 state (each with its own storm length), one KE-1 device before the scan's
// window, two with exhausted one-time keys, two with a to-device backlog, two flooded with one-time keys
// (200, and 500 with the next batch refused). The scan must list
// exactly those, in rank order, with the first safe step for each.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { newIdentity, reproduce, upload, uploadBody } from '../lib/ke1.mjs';
import { pgSynapse } from '../lib/pg-synapse.mjs';

export const name = 'scan_server';
export const order = 45;

const USERS = 110;

function check(cond, msg, doc) {
  if (!cond) throw new Error(`${msg}${doc ? `\n${JSON.stringify(doc, null, 2).slice(0, 4000)}` : ''}`);
}

async function inBatches(n, size, f) {
  const out = [];
  for (let i = 0; i < n; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => f(i + j)))));
  return out;
}

export async function run(ctx) {
  const { log, outDir, exec } = ctx;
  const build = await exec('cargo', ['build', '-q', '-p', 'crypto-health-cli']);
  check(build.code === 0, `cargo build -p crypto-health-cli failed:\n${build.stderr.slice(-3000)}`);
  const bin = path.join('target', 'debug', 'crypto-health');
  const { hs, password, pgpass } = await pgSynapse(ctx);
  const tag = Date.now().toString(36);
  const pw = 'e2e-scan-pw';

  // A populated server: USERS users through the shared-secret admin API, each device with
  // published device keys and a few one-time keys.
  const t0 = Date.now();
  const users = await inBatches(USERS, 10, async (i) => {
    const u = await hs.registerUser(`scan${tag}u${i}`, pw);
    const r = await upload(hs.baseUrl, u.accessToken, uploadBody(newIdentity(), u.userId, u.deviceId, { n: 3 }));
    check(r.status === 200, `keys/upload for ${u.userId}: ${r.status}`);
    return u;
  });
  const populateMs = Date.now() - t0;
  log(`${users.length} users with keys in ${populateMs} ms`);

  const named = async (suffix) => hs.registerUser(`scan${tag}${suffix}`, pw);
  // Before the window: a KE-1 device the windowed scan must leave out.
  const early = await reproduce(hs.baseUrl, await named('early'), { storm: 5 });
  // Synapse writes a request's log line after it has answered: let the early storm's last lines
  // land before the window opens (a run once saw the early device's last 400 stamped after it).
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const since = Date.now();
  // In the window, started out of rank order: storms of 2, 6 and 4 rejections.
  const storms = { k3: 2, k1: 6, k2: 4 };
  const ke1 = {};
  for (const [k, storm] of Object.entries(storms)) ke1[k] = await reproduce(hs.baseUrl, await named(k), { storm });

  // Exhausted one-time keys: e1 had one key and a fallback key, both claimed; e2 published none.
  const claimer = users[0];
  const e1 = await named('e1');
  check((await upload(hs.baseUrl, e1.accessToken, uploadBody(newIdentity(), e1.userId, e1.deviceId, { n: 1, fallback: true }))).status === 200, 'e1 upload');
  for (let i = 0; i < 2; i++) await hs.request('POST', '/_matrix/client/v3/keys/claim', { one_time_keys: { [e1.userId]: { [e1.deviceId]: 'signed_curve25519' } } }, claimer.accessToken);
  const e2 = await named('e2');
  check((await upload(hs.baseUrl, e2.accessToken, uploadBody(newIdentity(), e2.userId, e2.deviceId, { n: 0 }))).status === 200, 'e2 upload');

  // To-device backlogs: 30 and 25 messages queued for devices that never sync.
  const b1 = await named('b1');
  const b2 = await named('b2');
  for (const [target, n] of [[b1, 30], [b2, 25]]) {
    for (let i = 0; i < n; i++) {
      await hs.request('PUT', `/_matrix/client/v3/sendToDevice/m.room.encrypted/scan${tag}${target.deviceId}${i}`,
        { messages: { [target.userId]: { [target.deviceId]: { algorithm: 'm.olm.v1.curve25519-aes-sha2', ciphertext: {} } } } }, claimer.accessToken);
    }
  }

  // The one-time-key flood (an affected client's uploads, batch after batch): f1 holds 200 keys,
  // f2 reaches Synapse's limit of 500 and its next batch is refused.
  const flooded = {};
  for (const [k, batches] of [['f1', 4], ['f2', 10]]) {
    const u = await named(k);
    const id = newIdentity();
    for (let b = 0; b < batches; b++) {
      const r = await upload(hs.baseUrl, u.accessToken, uploadBody(id, u.userId, u.deviceId, { from: b * 50, n: 50, deviceKeys: b === 0 }));
      check(r.status === 200, `${k}: batch ${b}: ${r.status}`);
    }
    flooded[k] = u;
  }
  const refused = await upload(hs.baseUrl, flooded.f2.accessToken, uploadBody(newIdentity(), flooded.f2.userId, flooded.f2.deviceId, { from: 500, n: 50, deviceKeys: false }));
  check(refused.status === 400 && refused.body.errcode === 'M_TOO_LARGE' && String(refused.body.error).includes('over the limit of 500'), 'f2: Synapse refuses past 500 keys', refused);

  const scan = async (label, args) => {
    const r = await exec(bin, ['scan', ...args, '--synapse-db', hs.dbUrl, '--synapse-log', hs.logPath, '--backlog-min', '20'], { env: { PGPASSFILE: pgpass } });
    writeFileSync(path.join(outDir, `${label}.${args.includes('--json') ? 'json' : 'txt'}`), r.stdout || r.stderr);
    check(r.code === 0, `${label}: scan exited ${r.code}: ${r.stderr}`);
    check(!r.stdout.includes(password) && !r.stderr.includes(password), `${label}: the PostgreSQL password is in the output`);
    return r;
  };
  const w = await scan('windowed', ['--json', '--since', String(since)]);
  const doc = JSON.parse(w.stdout);
  const who = (list) => (list ?? []).map((d) => `${d.userId} ${d.deviceId}`);
  const want = ['k1', 'k2', 'k3'].map((k) => `${ke1[k].userId} ${ke1[k].deviceId}`);
  check(JSON.stringify(who(doc.ke1)) === JSON.stringify(want), `KE-1 list must be exactly k1, k2, k3 in that order`, { got: who(doc.ke1), want });
  for (const [i, k] of ['k1', 'k2', 'k3'].entries()) {
    const d = doc.ke1[i];
    check(d.rank === i + 1 && d.rejections400 === storms[k] && d.storedRowsDiffer === true, `${k}: rank, 400 count, stored rows differ`, d);
    check(d.keys.length === 1 && d.keys[0].keyId === `${ke1[k].algorithm}:${ke1[k].keyId}` && d.keys[0].storedRowDiffers === true, `${k}: the conflicting key id`, d);
    check(d.firstSafeStep.id === 'device_relogin', `${k}: first safe step`, d);
  }
  check(JSON.stringify(who(doc.otkExhausted)) === JSON.stringify([`${e1.userId} ${e1.deviceId}`, `${e2.userId} ${e2.deviceId}`]), 'exhausted: e1 (fallback used) then e2', doc.otkExhausted);
  check(doc.otkExhausted[0].fallbackUsed === true && doc.otkExhausted[1].fallbackUsed === null, 'fallback states', doc.otkExhausted);
  check(JSON.stringify(who(doc.toDeviceBacklog)) === JSON.stringify([`${b1.userId} ${b1.deviceId}`, `${b2.userId} ${b2.deviceId}`]), 'backlog: b1 (30) then b2 (25)', doc.toDeviceBacklog);
  check(doc.toDeviceBacklog[0].queued === 30 && doc.toDeviceBacklog[1].queued === 25, 'backlog counts', doc.toDeviceBacklog);

  const floodList = who(doc.otkFlood).filter((x) => x.includes(`scan${tag}`));
  check(JSON.stringify(floodList) === JSON.stringify([`${flooded.f2.userId} ${flooded.f2.deviceId}`, `${flooded.f1.userId} ${flooded.f1.deviceId}`]), 'flood: f2 (500) then f1 (200), nobody else', doc.otkFlood);
  const [f2, f1] = doc.otkFlood.filter((d) => d.userId.includes(`scan${tag}`));
  check(f2.signedCurve25519 === 500 && f2.atSynapseCap === true && f1.signedCurve25519 === 200 && f1.atSynapseCap === false && f1.firstSafeStep.id === 'upgrade_client', 'flood counts and first safe step', doc.otkFlood);

  // Triage over the same PostgreSQL database counts each flooded device's keys.
  for (const [k, n] of [['f2', 500], ['f1', 200]]) {
    const t = await exec(bin, ['triage', '--json', '--user', flooded[k].userId, '--device', flooded[k].deviceId, '--synapse-db', hs.dbUrl], { env: { PGPASSFILE: pgpass } });
    check(t.code === 0, `${k}: triage exited ${t.code}: ${t.stderr}`);
    const note = t.code === 0 ? (JSON.parse(t.stdout).notes ?? []).find((x) => x.includes('one-time-key flood')) : undefined;
    check(Boolean(note && note.includes(`holds ${n} signed_curve25519`)), `${k}: triage (PostgreSQL) names the flood with ${n} keys`, note);
  }

  // The whole log: the early device is back, ranked by its 5 rejections (between k1 and k2).
  const all = JSON.parse((await scan('whole-log', ['--json'])).stdout);
  const mine = who(all.ke1).filter((x) => x.includes(`scan${tag}`));
  check(JSON.stringify(mine) === JSON.stringify([want[0], `${early.userId} ${early.deviceId}`, want[1], want[2]]), 'whole log: k1, early, k2, k3', all.ke1);
  const text = (await scan('windowed', ['--since', String(since)])).stdout;
  check(text.includes('first safe step: device_relogin') && text.includes(ke1.k1.userId), 'text output', text);

  const devices = await hs.request('GET', `/_synapse/admin/v2/users?limit=1000&guests=false`, undefined, (await hs.registerUser(`scan${tag}admin`, pw, { admin: true })).accessToken);
  return {
    users: devices.total,
    populate_ms: populateMs,
    ke1_listed: doc.ke1.length,
    exhausted_listed: doc.otkExhausted.length,
    backlog_listed: doc.toDeviceBacklog.length,
    flood_listed: doc.otkFlood.length,
    scan_ms: w.ms,
    scan_db_ms: doc.timings.dbMs,
    scan_log_ms: doc.timings.logMs,
  };
}
