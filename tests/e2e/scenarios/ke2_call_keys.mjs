// KE-1 ⇒ KE-2 on the real stack: call media keys between real matrix-js-sdk 43 + crypto-wasm
// clients over the real Synapse, each page running MatrixRTC with the SDK's own to-device key
// transport (`joinRoomSession(foci, undefined, { manageMediaKeys: true })`, matrix-js-sdk
// src/matrixrtc/MatrixRTCSession.ts, RTCEncryptionManager.ts, ToDeviceKeyTransport.ts). No SFU:
// keys flow through Matrix alone, and every key the session hands to its media layer is
// recorded (MatrixRTCSessionEvent.EncryptionKeyChanged).
//
// 1. control: two healthy users in a call: each gets the other's key; crypto-health raises nothing.
// 2. case 1: alice, bob and carol share the encrypted room and bob's messages; bob's crypto store
//    is evicted (KE-1 follows); all join the call. Bob never gets alice's or carol's key (they
//    still encrypt to the identity bob lost), both get bob's.
// 3. case 2: dave first shares a room with bob after the eviction, then joins: dave cannot even
//    build an Olm session to bob (Synapse only has one-time keys signed by bob's old identity),
//    and the SDK counts the key as sent all the same.
// 4. logger off: bob's page restarts with the SDK logger disabled and joins again: the peers'
//    keys come again and fail again; crypto-health tells it from /sync alone.
// `crypto-health triage` with this Synapse's database and log (docs/TRIAGE.md Q2): bob's case-1
// report answers Q2 = KE-1 ⇒ KE-2 link confirmed, with evidence from the report (peers, events,
// the lost vs current identity) and from the database (the curve25519 key it advertises for bob
// now, bob's one-time keys not verifying against it); dave's names bob's device as unreachable,
// evidence about that other device; a control report gets no link.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail, until } from '../lib/page.mjs';
import { createCallRoom, evict, joinCall, restart, rtcState, rtcUser, saveReport, untilKeysFrom, untilMembers } from '../lib/rtc.mjs';

export const name = 'ke2_call_keys';
export const order = 62;

/** `crypto-health triage --json` on a saved report, with this Synapse's database and log. */
async function triage(ctx, name) {
  const r = await ctx.exec(path.join('target', 'debug', 'crypto-health'), [
    'triage', '--json', '--report', path.join(ctx.outDir, `${name}.json`), '--synapse-db', ctx.synapse.dbPath, '--synapse-log', ctx.synapse.logPath,
  ]);
  writeFileSync(path.join(ctx.outDir, `triage-${name}.json`), r.stdout || r.stderr);
  if (r.code !== 0) throw new Error(`triage ${name} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  const doc = JSON.parse(r.stdout);
  const q = (id) => doc.questions.find((x) => x.id === id);
  const ke = (k) => doc.conclusions.find((c) => c.ke === k)?.status;
  return { doc, q, ke, ms: r.ms };
}

export async function run(ctx) {
  const { log, outDir, exec } = ctx;
  const figures = {};
  // The CLI first, so its build does not fall inside the calls' timing.
  const build = await exec('cargo', ['build', '-q', '-p', 'crypto-health-cli']);
  if (build.code !== 0) throw new Error(`cargo build -p crypto-health-cli failed:\n${build.stderr.slice(-3000)}`);
  const t0 = Date.now();

  // ---- 1. control
  const c1 = await rtcUser(ctx, 'ctla');
  const c2 = await rtcUser(ctx, 'ctlb');
  const room0 = await createCallRoom(c1, [c2.userId]);
  await c2.page.evaluate((r) => window.e2e.join(r), room0);
  await c1.page.evaluate((r) => window.e2e.send(r, 'hello from ctla'), room0);
  await joinCall(c1, room0);
  await joinCall(c2, room0);
  for (const u of [c1, c2]) await untilMembers(u, 2);
  await untilKeysFrom(c1, [c2.id]);
  await untilKeysFrom(c2, [c1.id]);
  const control = [];
  for (const u of [c1, c2]) {
    const s = await rtcState(u);
    const r = await saveReport(ctx, u, `control-${u.name}`);
    control.push({ u, s, r });
  }
  figures.control_ms = Date.now() - t0;
  figures.control_keys_sent = control.map((c) => c.s.counters.roomEventEncryptionKeysSent).join('/');
  figures.control_keys_received = control.map((c) => c.s.counters.roomEventEncryptionKeysReceived).join('/');
  figures.control_findings = control.map((c) => c.r.findings.map((f) => f.id).join('+') || '-').join('/');
  log(`control: keys sent ${figures.control_keys_sent}, received ${figures.control_keys_received}, findings ${figures.control_findings}`);
  for (const c of control) {
    if (!(c.s.counters.roomEventEncryptionKeysSent >= 1 && c.s.counters.roomEventEncryptionKeysReceived >= 1)) throw fail(`control: ${c.u.name} keys did not flow both ways: ${JSON.stringify(c.s)}`, figures);
    if (c.r.findings.length) throw fail(`control: ${c.u.name} has findings ${c.r.findings.map((f) => f.id)}`, figures);
  }
  for (const u of [c1, c2]) await u.context.close();

  // ---- 2. case 1: the room and its history before the eviction
  const t1 = Date.now();
  const alice = await rtcUser(ctx, 'alice');
  const bob = await rtcUser(ctx, 'bob');
  const carol = await rtcUser(ctx, 'carol');
  const roomId = await createCallRoom(alice, [bob.userId, carol.userId]);
  await bob.page.evaluate((r) => window.e2e.join(r), roomId);
  await carol.page.evaluate((r) => window.e2e.join(r), roomId);
  await alice.page.evaluate((r) => window.e2e.send(r, 'hello from alice'), roomId);
  const bobMessage = await bob.page.evaluate((r) => window.e2e.send(r, 'hello from bob'), roomId);
  for (const u of [alice, carol]) {
    await u.page.waitForFunction(([r]) => window.e2e.texts(r).then((t) => t.includes('hello from bob')), [roomId], { timeout: 30_000, polling: 200 });
  }

  // bob's crypto store is evicted; the page restarts (SDK logger on).
  const boot = await evict(bob);
  figures.bob_store_finding = boot.finding && boot.finding.id;

  // dave meets bob only now.
  const dave = await rtcUser(ctx, 'dave');
  await alice.page.evaluate(([r, u]) => window.e2e.mx.invite(r, u), [roomId, dave.userId]);
  await dave.page.evaluate((r) => window.e2e.join(r), roomId);

  // Everybody joins the call, alice first.
  for (const u of [alice, carol, bob, dave]) await joinCall(u, roomId);
  const all = [alice, bob, carol, dave];
  for (const u of all) await untilMembers(u, 4, 60_000);
  // The keys that can flow do: alice, carol and dave get bob's; bob's peers get each other's.
  const waits = [];
  // Not dave's key to alice or carol: when the SDK encrypts one key for several devices and one of
  // them (bob) has no Olm session, the whole batch fails (src/rust-crypto/rust-crypto.ts
  // encryptToDeviceMessages: one Promise.all), so dave's key is lost for everyone in it.
  for (const [u, from] of [[alice, [bob, carol]], [carol, [alice, bob]], [dave, [alice, bob, carol]]]) {
    waits.push(await untilKeysFrom(u, from.map((x) => x.id), 45_000).then(() => null, (e) => `${u.name}: ${e.message.slice(0, 200)}`));
  }
  // Give bob's missing keys the time they would have needed (key delivery took < 5 s above).
  await bob.page.waitForTimeout(5_000);
  const states = {};
  for (const u of all) states[u.name] = await rtcState(u);
  writeFileSync(path.join(outDir, 'rtc-states.json'), JSON.stringify({ ids: Object.fromEntries(all.map((u) => [u.name, u.id])), states }, null, 2));
  for (const u of all) await saveReport(ctx, u, `case1-${u.name}`);
  if (waits.some(Boolean)) throw fail(`keys that should flow did not: ${waits.filter(Boolean).join(' | ')}`, figures);
  figures.case1_ms = Date.now() - t1;
  figures.bob_keys_from = states.bob.keysFrom.filter((k) => k !== bob.id).map((k) => k.split(':')[0]).join(',') || '-';
  figures.alice_keys_from = states.alice.keysFrom.filter((k) => k !== alice.id).map((k) => k.split(':')[0]).join(',');
  figures.dave_keys_sent = states.dave.counters.roomEventEncryptionKeysSent;
  figures.alice_keys_sent = states.alice.counters.roomEventEncryptionKeysSent;
  log(`bob has keys from [${figures.bob_keys_from}]; alice from [${figures.alice_keys_from}]; sent: alice ${figures.alice_keys_sent}, dave ${figures.dave_keys_sent}`);
  if (states.bob.keysFrom.some((k) => k !== bob.id)) throw fail(`bob got a peer's key although his identity was replaced: ${states.bob.keysFrom}`, figures);
  if (!(figures.alice_keys_sent >= 1)) throw fail('alice never sent her key', figures);
  if (!(figures.dave_keys_sent >= 1)) throw fail("dave's key to bob was not counted as sent", figures);

  // bob's own old message: the SDK says "sent before this device logged in"; crypto-health knows
  // the store was lost under the same device id.
  const bobMsgUtd = await bob.page.evaluate(([r, id]) => {
    const ev = window.e2e.mx.getRoom(r)?.findEventById(id);
    return ev ? (ev.isDecryptionFailure() ? ev.decryptionFailureReason : 'decrypted') : 'absent';
  }, [roomId, bobMessage]);
  figures.bob_old_message = bobMsgUtd;
  const reports = {};
  for (const u of all) reports[u.name] = await saveReport(ctx, u, `case1-${u.name}`);
  figures.reports = Object.fromEntries(Object.entries(reports).map(([k, r]) => [k, r.findings.map((f) => f.id)]));
  const finding = (r, id) => r.findings.find((f) => f.id === id);
  // A peer is one user with one curve25519 key: bob before and after the reset are two entries.
  const peers = (r, u) => (r.call?.peers ?? []).filter((p) => p.userId === u.userId);
  const hasPeer = (r, u, incoming) => peers(r, u).some((p) => p.incoming === incoming);

  // bob (the device that cannot hear): its peers' keys arrived encrypted for the identity it lost.
  const undecryptable = finding(reports.bob, 'call_keys_undecryptable');
  figures.bob_finding = undecryptable ? undecryptable.title : null;
  if (!undecryptable) throw fail(`bob: no call_keys_undecryptable finding: ${figures.reports.bob}`, figures);
  const fromAlice = undecryptable.evidence.peers.find((p) => p.userId === alice.userId);
  figures.bob_undecryptable_from = undecryptable.evidence.peers.map((p) => p.userId.split(':')[0]).join(',');
  figures.bob_undecryptable_msgids = fromAlice ? fromAlice.msgids.length : 0;
  if (!fromAlice || fromAlice.msgids.length === 0) throw fail("bob: alice's undecryptable messages not named with their msgid", figures);
  if (undecryptable.evidence.ke1.identityReplaced !== true) throw fail('bob: the finding does not link to the replaced identity', figures);
  if (!hasPeer(reports.bob, alice, 'undecryptable')) throw fail(`bob: alice's keys not marked undecryptable: ${JSON.stringify(peers(reports.bob, alice))}`, figures);
  const hist = reports.bob.decryption?.causes?.historical_no_key_backup;
  figures.bob_history_cause = hist ? `${hist.count} ${hist.explainedBy}` : Object.keys(reports.bob.decryption?.causes ?? {}).join(',');
  if (hist && hist.explainedBy !== 'crypto_store_reset') throw fail('bob: lost history not attributed to the store reset', figures);

  // alice and carol: bob's key arrived (the asymmetry); no finding about themselves.
  for (const u of [alice, carol]) {
    if (!hasPeer(reports[u.name], bob, 'received')) throw fail(`${u.name}: bob's call key not seen arriving: ${JSON.stringify(peers(reports[u.name], bob))}`, figures);
    if (finding(reports[u.name], 'call_keys_undecryptable')) throw fail(`${u.name}: a healthy device reports undecryptable keys`, figures);
  }
  // dave: cannot reach bob, and says so about bob's device (the key was "sent" all the same).
  const unreachable = finding(reports.dave, 'peer_unreachable');
  figures.dave_finding = unreachable ? unreachable.title : null;
  if (!unreachable || unreachable.evidence.userId !== bob.userId || unreachable.evidence.deviceId !== bob.deviceId || unreachable.evidence.about !== 'peer') {
    throw fail(`dave: no peer_unreachable naming bob's device: ${JSON.stringify(unreachable?.evidence)}`, figures);
  }
  figures.alice_has_dave_key = states.alice.keysFrom.includes(dave.id);
  figures.carol_has_dave_key = states.carol.keysFrom.includes(dave.id);

  // ---- triage of the case-1 reports against this Synapse (before bob restarts).
  const tb = await triage(ctx, 'case1-bob');
  const q2 = tb.q('Q2');
  const link = undecryptable.evidence.ke1;
  const ev = (q, pred) => q.evidence.find(pred);
  figures.bob_triage_q1 = tb.q('Q1').answer;
  figures.bob_triage_q2 = `${q2.answer}: ${q2.finding}`;
  figures.bob_triage_ke2 = tb.ke('KE-2');
  figures.bob_triage_ms = tb.ms;
  log(`triage case1-bob: Q1=${figures.bob_triage_q1}, Q2=${figures.bob_triage_q2}`);
  if (figures.bob_triage_q1 !== 'yes') throw fail('triage bob: Q1 must be yes (the one-time-key divergence)', figures);
  if (q2.answer !== 'yes' || !q2.finding.includes('KE-1 ⇒ KE-2 link confirmed')) throw fail('triage bob: Q2 must be the KE-1 ⇒ KE-2 link', figures);
  if (figures.bob_triage_ke2 !== 'linked_to_ke1') throw fail('triage bob: KE-2 conclusion must be linked_to_ke1', figures);
  // From the report: the peers, their events, the identity they encrypted for vs the current one.
  const fromReport = ev(q2, (e) => e.source === 'report findings (call_keys_undecryptable)');
  if (!fromReport || !fromReport.text.includes(alice.userId) || !fromReport.text.includes(`${fromAlice.events} event(s)`)
    || !fromReport.text.includes(link.previousCurve25519) || !fromReport.text.includes(link.currentCurve25519)) {
    throw fail(`triage bob: no report evidence naming alice, her events and both identities: ${JSON.stringify(q2.evidence)}`, figures);
  }
  // From the database: the key Synapse advertises for bob's device now is the one his page
  // uploaded after the reset, not the one the peers encrypted for.
  const fromDb = ev(q2, (e) => e.source.startsWith('db ') && e.source.endsWith('e2e_device_keys_json'));
  figures.bob_triage_db = fromDb ? fromDb.text : null;
  if (!fromDb || !fromDb.text.includes(`= ${link.currentCurve25519} (the report's current identity), not ${link.previousCurve25519}`)) {
    throw fail('triage bob: the database must advertise the new curve25519 key, not the one the peers encrypted for', figures);
  }
  // bob's one-time keys on the server are the lost identity's (the new account's uploads were refused).
  const otks = ev(q2, (e) => e.source.startsWith('db ') && e.source.endsWith('e2e_one_time_keys_json'));
  figures.bob_triage_otks = otks ? otks.text.split(':')[0] : null;
  if (!otks || !otks.text.startsWith('0 of ')) throw fail("triage bob: bob's stored one-time keys must not verify against his advertised identity", figures);

  // dave's report: bob's device named as unreachable, evidence about that other device.
  const td = await triage(ctx, 'case1-dave');
  const d2 = td.q('Q2');
  const bobName = `${bob.userId} (${bob.deviceId})`;
  figures.dave_triage_q2 = `${d2.answer}: ${d2.finding}`;
  figures.dave_triage_ke2 = td.ke('KE-2');
  log(`triage case1-dave: Q2=${figures.dave_triage_q2}`);
  if (!d2.finding.includes(`this device cannot reach ${bobName}: evidence about that other device`) || d2.finding.includes('link')) {
    throw fail("triage dave: Q2 must name bob's device as unreachable, not a link on dave's own device", figures);
  }
  if (!ev(d2, (e) => e.source === 'report findings (peer_unreachable)' && e.text.includes(bobName))) throw fail("triage dave: no report evidence naming bob's device", figures);
  const daveOtks = ev(d2, (e) => e.source.endsWith(`e2e_one_time_keys_json (${bobName})`));
  figures.dave_triage_bob_otks = daveOtks ? daveOtks.text.split(':')[0] : null;
  if (!daveOtks || !daveOtks.text.startsWith('0 of ')) throw fail("triage dave: bob's one-time keys in the database must be shown not to verify", figures);
  if (!d2.toSettle.some((s) => s.includes(`--user ${bob.userId} --device ${bob.deviceId}`))) throw fail("triage dave: must say how to triage bob's device", figures);
  if (figures.dave_triage_ke2 !== 'peer_device') throw fail('triage dave: KE-2 conclusion must be peer_device', figures);

  // A healthy control report: no link, KE-2 not seen.
  const tc = await triage(ctx, 'control-ctla');
  figures.control_triage_q2 = `${tc.q('Q2').answer}: ${tc.q('Q2').finding}`;
  if (tc.q('Q2').finding.includes('link') || tc.ke('KE-2') !== 'not_seen') throw fail('triage control: a healthy report must not be linked to KE-1', figures);

  // ---- 4. logger off: bob restarts without the SDK logger and joins again; the peers see a new
  // membership and send their key again, still to the identity bob lost.
  const t2 = Date.now();
  await restart(bob, { loggerOff: true });
  await joinCall(bob, roomId);
  await untilMembers(bob, 4, 60_000);
  // Wait for alice's key in particular: carol's may arrive first and satisfy a looser wait.
  await until(bob.page, `() => JSON.parse(window.e2e.report()).findings.some((f) => f.id === 'call_keys_undecryptable' && f.evidence.peers.some((p) => p.userId === ${JSON.stringify(alice.userId)}))`, 30_000, 'bob: undecryptable keys seen from /sync alone').catch(() => {});
  const off = await rtcState(bob);
  const offReport = await saveReport(ctx, bob, 'logger-off-bob');
  figures.logger_off_ms = Date.now() - t2;
  figures.logger_off_keys_from = off.keysFrom.filter((k) => k !== bob.id).join(',') || '-';
  figures.logger_off_lines = offReport.entries.filter((e) => e.source === 'host' && e.level !== 'http').length;
  const offFinding = finding(offReport, 'call_keys_undecryptable');
  figures.logger_off_finding = offFinding ? offFinding.evidence.peers.map((p) => `${p.userId.split(':')[0]}:${p.events}`).join(',') : null;
  // alice and carol still encrypt to the lost identity. dave may now reach bob: bob's own key
  // created an Olm session between bob's new identity and dave, and Olm sessions work both ways.
  figures.logger_off_dave_reaches_bob = off.keysFrom.includes(dave.id);
  if (off.keysFrom.some((k) => k === alice.id || k === carol.id)) throw fail('bob got alice\'s or carol\'s key after the restart', figures);
  if (!offFinding || !offFinding.evidence.peers.some((p) => p.userId === alice.userId && p.events > 0)) throw fail('logger off: no undecryptable keys from /sync', figures);
  figures.total_ms = Date.now() - t0;
  return figures;
}
