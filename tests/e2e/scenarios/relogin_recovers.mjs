// Following the recommendation from the storm left by eviction_storm_detected: a real logout
// (Synapse deletes the device) and a new login (a new device id). The detector must report
// `recovered` and keys/upload must succeed again, as Synapse's access log shows.
import { accessCount, fail, logSize, until } from '../lib/page.mjs';

export const name = 'relogin_recovers';
export const order = 50;

export async function run(ctx) {
  const { synapse, log, artifacts } = ctx;
  const storm = artifacts.storm;
  if (!storm) throw new Error('needs the storm from eviction_storm_detected (run it first)');
  const { page, user, password, deviceId } = storm;
  const figures = { old_device: deviceId };

  const rec = await page.evaluate(() => window.e2e.recoveries[0]?.recommendation ?? null);
  if (!rec || rec.id !== 'relogin_new_device') throw fail('no relogin recommendation to follow', figures);
  const t0 = Date.now();
  const from = logSize(synapse);
  await page.evaluate(() => window.e2e.logout());
  const ids = await page.evaluate(([b, u, p]) => window.e2e.login(b, u, p), [synapse.baseUrl, user, password]);
  figures.new_device = ids.deviceId;
  if (ids.deviceId === deviceId) throw fail('login reused the old device id', figures);
  await page.evaluate(() => window.e2e.startClient({ loggerOff: true, pollTimeout: 1000 }));
  await until(page, "() => window.e2e.api.otkHealth().phase === 'recovered'", 60_000, 'recovered');
  figures.recovered_ms = Date.now() - t0;
  // A few more syncs: the loop must not come back.
  const syncs0 = await page.evaluate(() => window.e2e.syncs);
  await until(page, `() => window.e2e.syncs >= ${syncs0 + 3}`, 30_000, '3 more syncs');
  const h = await page.evaluate(() => window.e2e.api.otkHealth());
  const ok = accessCount(synapse, from, /200 "POST \/_matrix\/client\/v3\/keys\/upload /);
  const bad = accessCount(synapse, from, /400 "POST \/_matrix\/client\/v3\/keys\/upload /);
  const logout = accessCount(synapse, from, /200 "POST \/_matrix\/client\/v3\/logout /);
  Object.assign(figures, {
    outcome: h.outcome,
    phase: h.phase,
    device_watched: h.deviceId,
    previous_device_phase: h.previousDevice && h.previousDevice.phase,
    uploads_accepted_after: ok,
    uploads_rejected_after: bad,
    server_logout: logout,
    recovery_events_total: await page.evaluate(() => window.e2e.recoveries.length),
  });
  log(`new device ${ids.deviceId}: ${h.phase}/${h.outcome} after ${figures.recovered_ms} ms; ${ok} uploads accepted, ${bad} rejected since logout`);
  if (logout !== 1) throw fail('no server-side logout seen', figures);
  if (h.outcome !== 'healthy' || h.phase !== 'recovered' || h.deviceId !== ids.deviceId) throw fail('detector did not report recovery on the new device', figures);
  if (ok < 1 || bad > 0) throw fail('uploads did not succeed cleanly after the re-login', figures);
  return figures;
}
