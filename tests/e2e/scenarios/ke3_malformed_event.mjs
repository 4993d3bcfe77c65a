// KE-3 on the real stack: an `m.room.encrypted` event without `algorithm` is sent through the
// real Synapse (a raw PUT, as a buggy client or bridge would) into an encrypted room the page's
// user is in. The real matrix-js-sdk + rust crypto fails to decrypt it; the report's `decryption`
// section files it as `malformed_event` (KE-3) with its event and room id; `crypto-health triage`
// with that Synapse's database answers Q3 = yes: a data problem.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail } from '../lib/page.mjs';
import { joinRaw, reportOf, sendRaw, triage, untilCause, watchedUser } from '../lib/utd.mjs';

export const name = 'ke3_malformed_event';
export const order = 60;

export async function run(ctx) {
  const { synapse, log, root } = ctx;
  const figures = {};
  const a = await watchedUser(ctx, 'ke3a');
  const b = await synapse.registerUser(`ke3b${Date.now().toString(36)}`, 'e2e-ke3b-pw');
  const roomId = await a.page.evaluate((bob) => window.e2e.createEncryptedRoom([bob]), b.userId);
  await joinRaw(synapse, b.accessToken, roomId);
  const t0 = Date.now();
  const eventId = await sendRaw(synapse, b.accessToken, roomId, 'm.room.encrypted', {
    ciphertext: 'AwgAEnAbadbadbad', sender_key: 'c2VuZGVyIGtleSBvZiBhIGJyb2tlbiBjbGllbnQ', session_id: 'c2Vzc2lvbg', device_id: 'BROKEN',
  });
  Object.assign(figures, { room_id: roomId, event_id: eventId });
  log(`malformed event ${eventId} in ${roomId}`);

  // The client sees it fail (the SDK's own verdict), then the grace period passes.
  const sdk = await a.page.evaluate(([r, e]) => window.e2e.waitFor(() => {
    const ev = window.e2e.mx.getRoom(r)?.findEventById(e);
    return ev && ev.isDecryptionFailure() ? { code: ev.decryptionFailureReason } : null;
  }, 30_000, 'the malformed event to fail'), [roomId, eventId]);
  figures.sdk_code = sdk.code;
  await untilCause(a.page, 'malformed_event', 1, 30_000);
  figures.counted_after_ms = Date.now() - t0;
  const { report, file } = await reportOf(ctx, a.page, 'report');
  figures.report_file = path.relative(root, file);
  const d = report.decryption;
  const m = d.causes.malformed_event;
  Object.assign(figures, { utd_failures: d.failures, malformed_count: m.count, malformed_kind: m.kind, malformed_ke: m.ke, grace_period_ms: d.gracePeriodMs });
  const ev = m.events.find((e) => e.eventId === eventId);
  if (!ev || ev.roomId !== roomId) throw fail(`KE-3 entry lacks ${eventId} in ${roomId}: ${JSON.stringify(m)}`, figures);
  if (m.kind !== 'data' || m.ke !== 'KE-3') throw fail(`malformed_event must be a KE-3 data problem: ${JSON.stringify(m)}`, figures);
  if (Object.keys(d.causes).some((c) => c !== 'malformed_event')) throw fail(`only KE-3 was sent, causes: ${Object.keys(d.causes)}`, figures);
  // The SDK's console line (logger on) is a KE-3 journal entry too, when its text names the field.
  const console = report.entries.find((e) => e.signature === 'ke3.missing_algorithm');
  figures.console_ke3_entry = !!console;
  figures.console_ke3_event = console?.fields?.event_id ?? null;

  // Triage on that Synapse's database: Q3 = yes, a data problem, naming the event and the room.
  const t = await triage(ctx, ['--report', file, '--synapse-db', synapse.dbPath]);
  writeFileSync(path.join(ctx.outDir, 'triage.json'), t.text);
  const q3 = t.doc.questions.find((q) => q.id === 'Q3');
  const ke3 = t.doc.conclusions.find((c) => c.ke === 'KE-3');
  Object.assign(figures, { q3: q3.answer, q3_event: q3.details.eventId, q3_room: q3.details.roomId, ke3_conclusion: ke3.status, triage_ms: t.ms });
  if (q3.answer !== 'yes' || ke3.status !== 'data_problem') throw fail(`Q3 ${q3.answer} / KE-3 ${ke3.status}: ${q3.finding}`, figures);
  if (q3.details.eventId !== eventId || q3.details.roomId !== roomId) throw fail(`Q3 names ${q3.details.eventId} in ${q3.details.roomId}`, figures);
  if (!q3.evidence.some((e) => e.source.includes('event_json') && e.text.includes('content.algorithm=null'))) throw fail('Q3 evidence must quote the stored event', figures);
  log(`KE-3 counted after ${figures.counted_after_ms} ms (SDK code ${sdk.code}); triage Q3=${q3.answer} ${ke3.status}`);
  return figures;
}
