// Why messages fail to decrypt, on the real stack: two real clients (matrix-js-sdk + rust crypto
// in Chromium) and the run's Synapse. The sender (dave) sends, in a room with history visibility
// `shared`, two messages in two megolm sessions before the watched user (carol) joins, then one
// message with keys withheld from unverified devices; a third user puts a megolm event whose
// ciphertext is no megolm message (rust crypto rejects it before any key lookup: the SDK says
// UNKNOWN_ERROR, filed as `unknown`, neither a key problem nor KE-3). Each failure must be filed under the cause the SDK's code names; then
// one of the early sessions is handed to carol (a real key export/import) after the grace
// period: that event decrypts late and is counted as a late decryption, not as a failure.
import path from 'node:path';
import { fail, until } from '../lib/page.mjs';
import { joinRaw, reportOf, sendRaw, untilCause, watchedUser } from '../lib/utd.mjs';

export const name = 'utd_causes';
export const order = 61;

const CAUSE_OF = {
  MEGOLM_UNKNOWN_INBOUND_SESSION_ID: 'missing_room_key',
  HISTORICAL_MESSAGE_USER_NOT_JOINED: 'sent_before_we_joined',
  MEGOLM_KEY_WITHHELD: 'withheld_by_sender',
  MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE: 'withheld_for_unverified_device',
  UNKNOWN_ERROR: 'unknown',
};

export async function run(ctx) {
  const { synapse, log, root } = ctx;
  const figures = {};
  const dave = await watchedUser(ctx, 'utdd');
  const carol = await watchedUser(ctx, 'utdc');
  const erin = await synapse.registerUser(`utde${Date.now().toString(36)}`, 'e2e-utde-pw');

  // 1. Before carol is in the room: two messages, two megolm sessions.
  const roomId = await dave.page.evaluate(async () => {
    const mx = window.e2e.mx;
    const r = await mx.createRoom({
      preset: 'private_chat',
      initial_state: [
        { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
        { type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'shared' } },
      ],
    });
    return r.room_id;
  });
  const early = await dave.page.evaluate(async (r) => {
    const e = window.e2e;
    const m0 = await e.send(r, 'early message 0');
    await e.mx.getCrypto().forceDiscardSession(r);
    const m1 = await e.send(r, 'early message 1');
    const session = (id) => e.waitFor(() => e.mx.getRoom(r)?.findEventById(id)?.getWireContent()?.session_id, 20_000, `session of ${id}`);
    return { m0, m1, s0: await session(m0), s1: await session(m1) };
  }, roomId);
  if (early.s0 === early.s1) throw fail('forceDiscardSession did not start a new megolm session', figures);

  // 2. carol joins; erin (raw API) joins and puts a megolm event whose ciphertext is no megolm message.
  await dave.page.evaluate(([r, u]) => window.e2e.mx.invite(r, u), [roomId, carol.userId]);
  await carol.page.evaluate((r) => window.e2e.join(r), roomId);
  await dave.page.evaluate(([r, u]) => window.e2e.mx.invite(r, u), [roomId, erin.userId]);
  await joinRaw(synapse, erin.accessToken, roomId);
  const badCiphertext = await sendRaw(synapse, erin.accessToken, roomId, 'm.room.encrypted', {
    algorithm: 'm.megolm.v1.aes-sha2', sender_key: 'bmV2ZXIgc2hhcmVkIHNlbmRlciBrZXkgb2YgZXJpbg', session_id: 'bmV2ZXItc2hhcmVkLXNlc3Npb24', device_id: 'ERINDEV', ciphertext: 'AwgAEnBuZXZlciBzaGFyZWQ',
  });

  // 3. dave withholds from unverified devices (carol's is one) and sends again.
  await dave.page.evaluate(async ([r, u]) => {
    const e = window.e2e;
    await e.waitFor(() => e.mx.getRoom(r)?.getMember(u)?.membership === 'join', 20_000, 'carol joined (dave sees it)');
    e.mx.getCrypto().globalBlacklistUnverifiedDevices = true;
  }, [roomId, carol.userId]);
  const withheld = await dave.page.evaluate((r) => window.e2e.send(r, 'not for unverified devices'), roomId);

  // 4. carol's client: what the SDK says for each event.
  const ids = { m0: early.m0, m1: early.m1, badCiphertext, withheld };
  const codes = await carol.page.evaluate(async ([r, ids]) => {
    const e = window.e2e;
    const room = () => e.mx.getRoom(r);
    // Events before the join come with the join's timeline or a back-page.
    await e.waitFor(() => room(), 20_000, 'room');
    for (let i = 0; i < 5 && !room().findEventById(ids.m0); i++) await e.mx.scrollback(room(), 20);
    const out = {};
    for (const [k, id] of Object.entries(ids)) {
      out[k] = await e.waitFor(() => {
        const ev = room().findEventById(id);
        return ev && !ev.isBeingDecrypted() && ev.isDecryptionFailure() ? ev.decryptionFailureReason : null;
      }, 30_000, `${k} (${id}) to fail`);
    }
    return out;
  }, [roomId, ids]);
  Object.assign(figures, { room_id: roomId, code_early: codes.m1, code_bad_ciphertext: codes.badCiphertext, code_withheld: codes.withheld });
  log(`SDK codes: early ${codes.m0}/${codes.m1}, bad ciphertext ${codes.badCiphertext}, withheld ${codes.withheld}`);

  // 5. Past the grace period, every failure is counted under the cause its code names.
  await untilCause(carol.page, CAUSE_OF[codes.withheld] ?? 'unknown', 1, 30_000);
  await until(carol.page, `() => (JSON.parse(window.e2e.report()).decryption || {}).pending === 0`, 30_000, 'no failure left within the grace period');
  const before = (await reportOf(ctx, carol.page, 'report-before-late')).report.decryption;
  for (const [k, id] of Object.entries(ids)) {
    const cause = CAUSE_OF[codes[k]];
    if (!cause) throw fail(`${k}: SDK code ${codes[k]} is not one this scenario expects`, figures);
    if (!before.causes[cause]?.events.some((e) => e.eventId === id && e.roomId === roomId)) throw fail(`${k} (${id}) not filed under ${cause}: ${JSON.stringify(before.causes)}`, figures);
  }
  const distinct = new Set(Object.values(codes).map((c) => CAUSE_OF[c]));
  figures.distinct_causes = [...distinct].sort().join(',');
  distinct.delete('unknown');
  if (distinct.size < 2) throw fail(`only ${distinct.size} distinct cause(s): ${figures.distinct_causes}`, figures);
  if (before.failures !== 4 || before.lateDecryptions !== 0) throw fail(`before: ${before.failures} failures, ${before.lateDecryptions} late`, figures);

  // 6. The first early session reaches carol (a real key export from dave, imported by carol's
  //    crypto): m0 decrypts late; it leaves the failures and is counted apart.
  const exported = await dave.page.evaluate(async (s0) => (await window.e2e.mx.getCrypto().exportRoomKeys()).filter((k) => k.session_id === s0), early.s0);
  if (exported.length !== 1) throw fail(`dave exported ${exported.length} keys for session ${early.s0}`, figures);
  const tLate = Date.now();
  await carol.page.evaluate(async ([keys, r, id]) => {
    const e = window.e2e;
    await e.mx.getCrypto().importRoomKeys(keys);
    await e.waitFor(() => { const ev = e.mx.getRoom(r).findEventById(id); return ev && !ev.isDecryptionFailure() && ev.getContent().body === 'early message 0'; }, 30_000, 'm0 decrypted after the import');
  }, [exported, roomId, early.m0]);
  await until(carol.page, `() => JSON.parse(window.e2e.report()).decryption.lateDecryptions >= 1`, 10_000, 'the late decryption counted');
  const { report, file } = await reportOf(ctx, carol.page, 'report');
  const d = report.decryption;
  const earlyCause = CAUSE_OF[codes.m0];
  Object.assign(figures, {
    report_file: path.relative(root, file),
    failures_before: before.failures,
    failures_after: d.failures,
    late_decryptions: d.lateDecryptions,
    max_late_ms: d.maxLateMs,
    late_after_import_ms: Date.now() - tLate,
    causes: Object.fromEntries(Object.entries(d.causes).map(([k, c]) => [k, c.count])),
  });
  if (d.lateDecryptions !== 1 || d.failures !== 3) throw fail(`after the import: ${d.failures} failures, ${d.lateDecryptions} late`, figures);
  if (d.causes[earlyCause].events.some((e) => e.eventId === early.m0)) throw fail('m0 is still listed as failing', figures);
  if (!(d.maxLateMs > d.gracePeriodMs)) throw fail(`a late decryption is past the grace period: ${d.maxLateMs} ms`, figures);
  log(`causes ${JSON.stringify(figures.causes)}; late decryptions ${d.lateDecryptions} (${d.maxLateMs} ms)`);
  return figures;
}
