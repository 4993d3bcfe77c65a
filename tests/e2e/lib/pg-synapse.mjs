// A second real Synapse, on PostgreSQL (a private cluster under the scenario's directory),
// shared by the scenarios of one run: the first that asks starts it, the run's cleanups stop it.
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startPostgres, startSynapse } from '../synapse.mjs';

export async function pgSynapse({ artifacts, root, log }) {
  if (artifacts.pgSynapse) return artifacts.pgSynapse;
  artifacts.pgSynapse = (async () => {
    const dir = path.join(root, 'target', 'e2e', 'pg');
    const t0 = Date.now();
    const pg = await startPostgres({ dir: path.join(dir, 'cluster') });
    (artifacts.cleanups ??= []).push(() => pg.stop());
    const db = await pg.createDatabase('synapse_e2e');
    // Triage logs in over 127.0.0.1 with a password that only the password file knows.
    const password = `pg-e2e-${randomBytes(9).toString('hex')}`;
    await pg.psql('postgres', `ALTER ROLE synapse PASSWORD '${password}'`);
    const pgpass = path.join(dir, 'pgpass');
    writeFileSync(pgpass, `127.0.0.1:${pg.port}:${db.database}:synapse:${password}\n`);
    chmodSync(pgpass, 0o600);
    const hs = await startSynapse({ dir: path.join(dir, 'synapse'), postgres: db });
    artifacts.cleanups.unshift(() => hs.stop()); // Synapse before its database
    log(`PostgreSQL Synapse ${hs.baseUrl} on ${hs.dbUrl} healthy after ${Date.now() - t0} ms`);
    return { pg, hs, db, password, pgpass, keyValue: `host=${pg.host} port=${pg.port} dbname=${db.database} user=synapse` };
  })();
  return artifacts.pgSynapse;
}
