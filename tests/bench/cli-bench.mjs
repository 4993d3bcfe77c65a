#!/usr/bin/env node
// CLI benchmark: `crypto-health triage` on a large Synapse log against the three manual
// `grep -E` commands over the same file, peak memory (/usr/bin/time -v), and `crypto-health scan`
// query time on PostgreSQL.
//
//   node tests/bench/cli-bench.mjs [--sizes 100,1000] [--users 110,10000] [--no-pg]
//
// The log is generated on the fly into target/bench-cli/ (real Synapse 1.163 line shapes: access
// lines for /sync, keys/upload, keys/query, sendToDevice, delayed events, handler lines, and a KE-1
// storm of three users) and deleted afterwards. The greps an operator would run by hand, for the KE-1 user:
//   grep -E "keys/upload|One time key .* already exists|OneTimeKey" LOG | grep "<user>"
//   grep -E "io.element.call.encryption_keys|m.room.encrypted|/sendToDevice|to_device" LOG | grep -E "<user>|<peer>"
//   grep -E "delayed_event|msc4140|msc4157|update_delayed" LOG | grep "<user>"
// Each timing is the best of `--runs` (default 3; 1 for sizes ≥ 1000 MB) after one warm-up read.
// The scan figure uses a private PostgreSQL cluster (scripts/pg-cluster.sh) filled with Synapse's
// tables and column types at the given user counts. Writes target/bench-cli/results.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = path.join(ROOT, 'target', 'bench-cli');
const BIN = path.join(ROOT, 'target', 'release', 'crypto-health');
const arg = (k, d) => {
  const i = process.argv.indexOf(k);
  return i < 0 ? d : process.argv[i + 1];
};
const SIZES = arg('--sizes', '100,1000').split(',').map(Number);
const USERS = arg('--users', '110,10000').split(',').map(Number);
const RUNS = Number(arg('--runs', '3'));
const PG = !process.argv.includes('--no-pg');

const KE1_USER = '@ke1storm:example.org';
const PEER = '@peer7:example.org';

// ----------------------------------------------------------------------------- log generator
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}
const pad = (n, w = 2) => String(n).padStart(w, '0');
function stamp(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())},${pad(d.getUTCMilliseconds(), 3)}`;
}

async function generate(file, megabytes) {
  const rand = rng(42);
  const out = createWriteStream(file, { highWaterMark: 1 << 22 });
  const target = megabytes * 1024 * 1024;
  let bytes = 0;
  let t = Date.UTC(2026, 10, 21, 0, 0, 0);
  let req = 0;
  let chunk = [];
  let chunkBytes = 0;
  const push = (l) => {
    chunk.push(l);
    chunkBytes += l.length + 1;
  };
  const access = (user, method, p, status, secs, size) =>
    push(`${stamp(t)} - synapse.access.http.8008 - 643 - INFO - ${method}-${req} - 10.10.10.${1 + (req % 200)} - 8008 - {${user}} Processed request: ${secs.toFixed(3)}sec/0.000sec ru=(0.002sec, 0.000sec) db=(0.001sec/0.003sec/4) ${size}B ${status} "${method} ${p} HTTP/1.1" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36" [0 dbevts]`);
  let n = 0;
  while (bytes < target) {
    t += Math.floor(rand() * 8);
    req++;
    n++;
    const user = `@user${Math.floor(rand() * 5000)}:example.org`;
    const r = rand();
    if (n % 2000 === 0) {
      // A KE-1 storm round for one of three users: the error line, then its access line.
      const who = [KE1_USER, '@ke1b:example.org', '@ke1c:example.org'][n % 3];
      const dev = who === KE1_USER ? 'STORMDEV' : 'OTHERDEV';
      push(`${stamp(t)} - synapse.http.server - 132 - INFO - POST-${req} - <SynapseRequest at 0x7fac408bba50 method='POST' uri='/_matrix/client/v3/keys/upload' clientproto='HTTP/1.1' site='8008'> SynapseError: 400 - One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"i/PhQ2qkU5C0lKUWtvqZ8p9sIW2hG6e+aBUsk3vBvXA","signatures":{"${who}":{"ed25519:${dev}":"s1RMyHqT9bd1bTx6ziZvI1lK4Lx7pL6x0C1Qd1j3iVhmgnB+t5ow0mdF7m4Nsbmf5AmP9BWW+QZzOwbgB7LvAg"}}}; new key: {'key': 'Js6iGm3M8LtRU7gS3y9QvFbOZc8cCr5x4mJ3m1mJ9mE', 'signatures': {'${who}': {'ed25519:${dev}': 'Kx0WmGEu9Q9VcY4Aw3d7M4ZrM1zC2a8bD2o8w9VbM9dGz8Qn3kS5aP7xkzH1V6pYrF0u6cXz8d2Zp3yQm4yBAQ'}}}`);
      access(who, 'POST', '/_matrix/client/v3/keys/upload', 400, 0.008, 552);
    } else if (r < 0.55) {
      access(user, 'GET', `/_matrix/client/v3/sync?since=s${req}_${n}_4_77&timeout=30000&set_presence=online`, 200, rand() * 0.05 + 29.9 * (rand() < 0.5), 300 + Math.floor(rand() * 4000));
    } else if (r < 0.62) {
      access(user, 'POST', '/_matrix/client/v3/keys/query', 200, rand() * 0.03, 900);
    } else if (r < 0.66) {
      access(user, 'POST', '/_matrix/client/v3/keys/upload', 200, rand() * 0.02, 48);
    } else if (r < 0.72) {
      const type = rand() < 0.5 ? 'm.room.encrypted' : 'io.element.call.encryption_keys';
      access(rand() < 0.02 ? PEER : user, 'PUT', `/_matrix/client/v3/sendToDevice/${type}/m${req}.${n}`, 200, rand() * 0.02, 2);
    } else if (r < 0.75) {
      access(rand() < 0.05 ? KE1_USER : user, 'POST', `/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_${req}`, 200, rand() * 0.05, 2);
    } else if (r < 0.85) {
      push(`${stamp(t)} - synapse.handlers.auth - 1007 - INFO - POST-${req} - Logging in user ${user} on device D${req % 9973}`);
    } else if (r < 0.93) {
      push(`${stamp(t)} - synapse.handlers.e2e_keys - 1521 - INFO - POST-${req} - Adding one_time_keys ['signed_curve25519:AAAAAAAAAB${n % 10}'] for device ${user}/D${req % 9973}`);
    } else {
      push(`${stamp(t)} - synapse.storage.txn - 741 - INFO - _process_presence-${req} - [TXN OPERROR] {update_presence-${n}} could not serialize access due to concurrent update 0/5`);
    }
    if (chunkBytes > 1 << 20) {
      const s = chunk.join('\n') + '\n';
      bytes += Buffer.byteLength(s);
      if (!out.write(s)) await once(out, 'drain');
      chunk = [];
      chunkBytes = 0;
    }
  }
  out.end();
  await once(out, 'finish');
  return statSync(file).size;
}

// ----------------------------------------------------------------------------- measurement
/** Wall seconds and peak RSS (KiB) of a shell command, from /usr/bin/time -v. */
function timed(shell) {
  const r = spawnSync('/usr/bin/time', ['-v', 'bash', '-c', shell], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0 && !/Exit status: 1\b/.test(r.stderr)) throw new Error(`${shell}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  const wall = r.stderr.match(/Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/);
  const secs = (Number(wall[1] ?? 0) * 3600) + Number(wall[2]) * 60 + Number(wall[3]);
  const rss = Number(r.stderr.match(/Maximum resident set size \(kbytes\): (\d+)/)[1]);
  return { secs, rssKiB: rss, stdout: r.stdout };
}
const best = (n, f) => {
  let b = null;
  for (let i = 0; i < n; i++) {
    const x = f();
    if (!b || x.secs < b.secs) b = { ...x, rssKiB: Math.max(x.rssKiB, b?.rssKiB ?? 0) };
  }
  return b;
};

function greps(file) {
  const f = JSON.stringify(file);
  return [
    `grep -E "keys/upload|One time key .* already exists|OneTimeKey" ${f} | grep "${KE1_USER}" >/dev/null`,
    `grep -E "io.element.call.encryption_keys|m.room.encrypted|/sendToDevice|to_device" ${f} | grep -E "${KE1_USER}|${PEER}" >/dev/null`,
    `grep -E "delayed_event|msc4140|msc4157|update_delayed" ${f} | grep "${KE1_USER}" >/dev/null`,
  ];
}

function benchLog(sizeMb) {
  const file = path.join(OUT, `homeserver-${sizeMb}MB.log`);
  return generate(file, sizeMb).then((bytes) => {
    const runs = sizeMb >= 1000 ? 1 : RUNS;
    execFileSync('bash', ['-c', `cat ${JSON.stringify(file)} > /dev/null`]); // warm the page cache
    const g = greps(file).map((c) => best(runs, () => timed(c)));
    const grepSecs = g.reduce((a, x) => a + x.secs, 0);
    const cmd = `${JSON.stringify(BIN)} triage --json --synapse-log ${JSON.stringify(file)} --user ${KE1_USER} --device STORMDEV`;
    const t = best(runs, () => timed(cmd));
    const doc = JSON.parse(t.stdout);
    const q1 = doc.questions.find((q) => q.id === 'Q1');
    if (q1.answer !== 'yes' || q1.details.keyId !== 'AAAAAAAAAA0') throw new Error(`triage on the bench log: Q1 ${q1.answer} ${q1.details.keyId}`);
    // The same log gzipped, as a rotated homeserver.log.1.gz.
    let gz = null;
    if (sizeMb < 1000) {
      const gzFile = `${file}.1.gz`;
      execFileSync('bash', ['-c', `gzip -1 -c ${JSON.stringify(file)} > ${JSON.stringify(gzFile)}`]);
      gz = timed(`${JSON.stringify(BIN)} triage --json --synapse-log ${JSON.stringify(gzFile)} --user ${KE1_USER} --device STORMDEV > /dev/null`);
      rmSync(gzFile);
    }
    rmSync(file);
    const r = {
      sizeMB: +(bytes / 1048576).toFixed(1), lines: doc.inputs.synapseLog.lines,
      grepSecs: +grepSecs.toFixed(3), grepEach: g.map((x) => +x.secs.toFixed(3)), grepPeakMiB: +(Math.max(...g.map((x) => x.rssKiB)) / 1024).toFixed(1),
      triageSecs: +t.secs.toFixed(3), triagePeakMiB: +(t.rssKiB / 1024).toFixed(1), ratio: +(t.secs / grepSecs).toFixed(2),
      gzTriageSecs: gz && +gz.secs.toFixed(3), gzTriagePeakMiB: gz && +(gz.rssKiB / 1024).toFixed(1),
    };
    console.log(`log ${r.sizeMB} MB (${r.lines} lines): greps ${r.grepSecs}s [${r.grepEach}] peak ${r.grepPeakMiB} MiB | triage ${r.triageSecs}s (${r.ratio}× the greps) peak ${r.triagePeakMiB} MiB${gz ? ` | .gz ${r.gzTriageSecs}s peak ${r.gzTriagePeakMiB} MiB` : ''}`);
    return r;
  });
}

// ------------------------------------------------------------------------- scan on PostgreSQL
const PG_SCHEMA = `
CREATE TABLE schema_version (lock character(1) DEFAULT 'X' NOT NULL, version integer NOT NULL, upgraded boolean NOT NULL);
INSERT INTO schema_version VALUES ('X', 92, true);
CREATE TABLE e2e_one_time_keys_json (user_id text NOT NULL, device_id text NOT NULL, algorithm text NOT NULL, key_id text NOT NULL, ts_added_ms bigint NOT NULL, key_json text NOT NULL);
CREATE UNIQUE INDEX e2e_one_time_keys_json_uniqueness ON e2e_one_time_keys_json (user_id, device_id, algorithm, key_id);
CREATE TABLE e2e_fallback_keys_json (user_id text NOT NULL, device_id text NOT NULL, algorithm text NOT NULL, key_id text NOT NULL, key_json text NOT NULL, used boolean DEFAULT false NOT NULL);
CREATE UNIQUE INDEX e2e_fallback_keys_json_uniqueness ON e2e_fallback_keys_json (user_id, device_id, algorithm);
CREATE TABLE e2e_device_keys_json (user_id text NOT NULL, device_id text NOT NULL, ts_added_ms bigint NOT NULL, key_json text NOT NULL);
CREATE UNIQUE INDEX e2e_device_keys_json_uniqueness ON e2e_device_keys_json (user_id, device_id);
CREATE TABLE devices (user_id text NOT NULL, device_id text NOT NULL, display_name text, last_seen bigint, ip text, user_agent text, hidden boolean DEFAULT false);
CREATE UNIQUE INDEX device_uniqueness ON devices (user_id, device_id);
CREATE TABLE device_inbox (user_id text NOT NULL, device_id text NOT NULL, stream_id bigint NOT NULL, message_json text NOT NULL, instance_name text);
CREATE INDEX device_inbox_user_stream_id ON device_inbox (user_id, device_id, stream_id);`;

function fill(users) {
  // Two devices per user, 50 one-time keys each (1 in 100 devices exhausted), a fallback key
  // each, 10 queued to-device messages per device (1 in 100 with 200).
  return `
CREATE TEMP TABLE dev AS SELECT '@u' || u || ':example.org' AS user_id, 'D' || d AS device_id, u * 2 + d AS n FROM generate_series(1, ${users}) u, generate_series(0, 1) d;
INSERT INTO devices SELECT user_id, device_id, NULL, 1795294148000, NULL, NULL, false FROM dev;
INSERT INTO e2e_device_keys_json SELECT user_id, device_id, 1, '{"keys":{}}' FROM dev;
INSERT INTO e2e_one_time_keys_json SELECT user_id, device_id, 'signed_curve25519', 'K' || k, 1, '{"key":"x"}' FROM dev, generate_series(1, 50) k WHERE n % 100 <> 0;
INSERT INTO e2e_fallback_keys_json SELECT user_id, device_id, 'signed_curve25519', 'F', '{"key":"f"}', n % 200 = 0 FROM dev;
INSERT INTO device_inbox SELECT user_id, device_id, row_number() OVER (), '{"type":"m.room.encrypted"}', 'master' FROM dev, generate_series(1, CASE WHEN n % 100 = 1 THEN 200 ELSE 10 END) m;
ANALYZE;`;
}

function benchScan() {
  const dir = path.join(OUT, 'pg');
  const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'pg-cluster.sh'), 'start', dir], { encoding: 'utf8' });
  const host = out.match(/PGHOST=(\S+)/)[1];
  const port = out.match(/PGPORT=(\d+)/)[1];
  const psql = (db, sql) => execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', '-h', host, '-p', port, '-U', 'postgres', '-d', db, '-c', sql], { encoding: 'utf8' });
  const results = [];
  try {
    for (const users of USERS) {
      psql('postgres', 'DROP DATABASE IF EXISTS scanbench');
      psql('postgres', "CREATE DATABASE scanbench ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0");
      psql('scanbench', PG_SCHEMA);
      psql('scanbench', fill(users));
      const spec = `host=${host} port=${port} dbname=scanbench user=postgres`;
      const runs = [];
      for (let i = 0; i < RUNS; i++) {
        const t = timed(`${JSON.stringify(BIN)} scan --json --synapse-db ${JSON.stringify(spec)} --backlog-min 100`);
        runs.push({ ...t, doc: JSON.parse(t.stdout) });
      }
      const b = runs.reduce((a, x) => (x.doc.timings.dbMs < a.doc.timings.dbMs ? x : a));
      const r = { users, devices: users * 2, dbMs: b.doc.timings.dbMs, connectMs: b.doc.timings.connectMs, queryMs: b.doc.timings.dbMs - b.doc.timings.connectMs, wallSecs: +b.secs.toFixed(3), peakMiB: +(b.rssKiB / 1024).toFixed(1), exhausted: b.doc.otkExhausted.length, backlogs: b.doc.toDeviceBacklog.length };
      console.log(`scan on PostgreSQL, ${users} users / ${r.devices} devices: ${r.dbMs} ms (connect ${r.connectMs} ms, queries ${r.queryMs} ms; wall ${r.wallSecs}s, peak ${r.peakMiB} MiB): ${r.exhausted} exhausted, ${r.backlogs} backlogs listed`);
      results.push(r);
    }
  } finally {
    execFileSync('bash', [path.join(ROOT, 'scripts', 'pg-cluster.sh'), 'stop', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  execFileSync('cargo', ['build', '--release', '-q', '-p', 'crypto-health-cli'], { cwd: ROOT, stdio: 'inherit' });
  const results = { machine: { cpus: (await import('node:os')).cpus().length, locale: process.env.LANG ?? null }, logs: [], scan: [] };
  for (const s of SIZES) results.logs.push(await benchLog(s));
  if (PG) results.scan = benchScan();
  writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  const worst = Math.max(...results.logs.map((l) => l.ratio));
  console.log(`goal: triage within 2× of the manual greps: ${worst <= 2 ? 'met' : 'NOT met'} (worst ${worst}×); memory flat in log size: peak ${results.logs.map((l) => `${l.triagePeakMiB} MiB @ ${l.sizeMB} MB`).join(', ')}`);
}

main().catch((e) => {
  console.error(`cli-bench: ${e.stack ?? e}`);
  process.exit(1);
});
