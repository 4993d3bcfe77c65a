// The opt-in storm breaker on the real storm left by eviction_storm_detected: with
// `breakUploadStorm` on, keys/upload requests reaching Synapse (counted in its access log) drop,
// while the client's other traffic (/sync) keeps flowing. Both are counted over the same windows.
import { accessCount, fail, logSize, until } from '../lib/page.mjs';

export const name = 'storm_breaker_saves_requests';
export const order = 40;

const UPLOAD = /"POST \/_matrix\/client\/v3\/keys\/upload /;
const SYNC = /"GET \/_matrix\/client\/v3\/sync\?/;
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function run(ctx) {
  const { synapse, log, artifacts } = ctx;
  const storm = artifacts.storm;
  if (!storm) throw new Error('needs the storm from eviction_storm_detected (run it first)');
  const { page } = storm;
  const figures = {};
  // Access lines carry the user: count only this client's requests.
  const mine = (re) => new RegExp(`\\{@${escape(storm.user)}:[^}]*\\}.*${re.source}`);

  // Window 1, breaker off: the storm as it is. Windows are counted in syncs, not seconds.
  const SYNCS = 8;
  const windowOf = async () => {
    const from = logSize(synapse);
    const t0 = Date.now();
    const n0 = await page.evaluate(() => window.e2e.syncs);
    await until(page, `() => window.e2e.syncs >= ${n0 + SYNCS}`, 60_000, `${SYNCS} syncs`);
    const ms = Date.now() - t0;
    return { uploads: accessCount(synapse, from, mine(UPLOAD)), syncs: accessCount(synapse, from, mine(SYNC)), ms };
  };
  const before = await windowOf();
  log(`breaker off: ${before.uploads} uploads / ${before.syncs} syncs reached Synapse in ${before.ms} ms`);

  const enabled = await page.evaluate(() => {
    const again = window.e2e.api.installHttpTap({ breakUploadStorm: true });
    return { again, health: window.e2e.api.otkHealth() };
  });
  if (enabled.again !== false) throw fail('installHttpTap was expected to be installed already (update only)', figures);
  const savedBefore = enabled.health.breaker.savedRequests;
  const after = await windowOf();
  const state = await page.evaluate(() => ({ h: window.e2e.api.otkHealth(), http: JSON.parse(window.e2e.report()).http }));
  log(`breaker on: ${after.uploads} uploads / ${after.syncs} syncs reached Synapse in ${after.ms} ms; saved ${state.h.breaker.savedRequests}`);

  Object.assign(figures, {
    uploads_reaching_synapse_before: before.uploads,
    syncs_before: before.syncs,
    window_before_ms: before.ms,
    uploads_reaching_synapse_after: after.uploads,
    syncs_after: after.syncs,
    window_after_ms: after.ms,
    requests_saved: state.h.breaker.savedRequests - savedBefore,
    answered_locally_total: state.http.keysUpload.answeredLocally,
    next_probe_in_ms: state.h.breaker.nextProbeAt === null ? null : state.h.breaker.nextProbeAt - Date.now(),
    phase: state.h.phase,
  });
  if (before.uploads < 3) throw fail('the storm was not hammering Synapse before the breaker (nothing to save)', figures);
  if (!(after.uploads < before.uploads / 2)) throw fail('uploads reaching Synapse did not drop', figures);
  if (after.syncs < SYNCS - 1) throw fail('the client\'s other traffic stopped', figures);
  if (figures.requests_saved < 3) throw fail('the report does not count the saved requests', figures);
  if (state.h.phase !== 'storm') throw fail('the breaker must not hide the storm', figures);
  return figures;
}
