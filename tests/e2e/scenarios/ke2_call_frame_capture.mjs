// KE-2's side of the call on the real stack. The real @element-hq/element-call-embedded (npm,
// 0.20.0) is served from the e2e page's own origin and embedded as Cinny embeds it
// (tests/e2e/page/call.js: ClientWidgetApi from matrix-widget-api, Cinny's widget driver on the
// host's MatrixClient). Two real users on the real Synapse: alice in the page with Element Call,
// bob with matrix-js-sdk's own MatrixRTC session (MembershipManager + to-device key transport);
// carol announces a call membership straight to Synapse and never sends a key.
//
// Proven here: the frame is adopted at insertion (Chromium keeps the initial window for the first
// same-origin document when src is set before insertion, as Cinny does), so its console is
// captured from its first script: Chromium's own count of console API calls in the frame (CDP) is
// the reference; the widget API traffic between host and frame is observed into the `call` section.
// Not proven: call keys. No LiveKit server is reachable from these machines; Element Call 0.20
// asks for its SFU's JWT before it sends its membership and stops there (OPEN_ID_ERROR), so no key
// flows and no member can be missing one. The figures record how far it got.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail, openPage, until, validateReport } from '../lib/page.mjs';

export const name = 'ke2_call_frame_capture';
export const order = 61;

export async function run(ctx) {
  const { synapse, log, outDir, artifacts } = ctx;
  artifacts.cleanups = artifacts.cleanups ?? [];
  const stamp = Date.now();
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => `ke2${n}_${stamp}`);
  for (const u of [alice, bob, carol]) await synapse.registerUser(u, 'pw');
  const carolSession = await synapse.login(carol, 'pw', 'CAROLDEV');

  const a = await openPage(ctx);
  artifacts.cleanups.push(() => a.context.close());
  const allConsole = []; // the page's console as Playwright sees it, kept for the record
  a.page.on('console', (m) => {
    const url = m.location().url || '';
    allConsole.push(`${m.type()} ${url.replace(/^https?:\/\/[^/]+/, '').slice(0, 80)} ${m.text().slice(0, 300)}`);
  });
  // The reference count: Chromium's own console API calls per frame (CDP Runtime.consoleAPICalled,
  // by execution context): every one made in the call frame must be in the tap's count for it.
  const cdp = await a.context.newCDPSession(a.page);
  const contextFrame = new Map();
  let frameApiCalls = 0;
  cdp.on('Runtime.executionContextCreated', (e) => contextFrame.set(e.context.id, e.context.auxData && e.context.auxData.frameId));
  const { frameTree } = await cdp.send('Page.getFrameTree');
  cdp.on('Runtime.consoleAPICalled', (e) => { if (contextFrame.get(e.executionContextId) !== frameTree.frame.id) frameApiCalls++; });
  await cdp.send('Runtime.enable');
  await a.page.evaluate(() => window.e2e.boot());
  await a.page.evaluate(([u, b]) => window.e2e.login(b, u, 'pw'), [alice, synapse.baseUrl]);
  const aliceIds = await a.page.evaluate(() => window.e2e.startClient({ loggerOff: false }));
  const roomId = await a.page.evaluate(([b, c]) => window.e2e.createEncryptedRoom([b, c]), [`@${bob}:${synapse.serverName}`, `@${carol}:${synapse.serverName}`]);

  const b = await openPage(ctx);
  artifacts.cleanups.push(() => b.context.close());
  await b.page.evaluate(() => window.e2e.boot());
  await b.page.evaluate(([u, s]) => window.e2e.login(s, u, 'pw'), [bob, synapse.baseUrl]);
  const bobIds = await b.page.evaluate(() => window.e2e.startClient({ loggerOff: false }));
  await b.page.evaluate(([r]) => window.e2e.join(r), [roomId]);

  // carol: joins and announces a call membership, and nothing else (no key is ever sent).
  const hs = (method, p, body, token) => fetch(synapse.baseUrl + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
  await hs('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {}, carolSession.accessToken);
  const carolKey = `_${carolSession.userId}_CAROLDEV_m.call`;
  await hs('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/org.matrix.msc3401.call.member/${encodeURIComponent(carolKey)}`, {
    application: 'm.call', call_id: '', scope: 'm.room', device_id: 'CAROLDEV', expires: 3_600_000,
    focus_active: { type: 'livekit', focus_selection: 'oldest_membership' }, foci_preferred: [{ type: 'livekit', livekit_service_url: 'http://127.0.0.1:9/livekit/jwt', livekit_alias: roomId }],
  }, carolSession.accessToken);

  // bob joins the call with the SDK's own MatrixRTC session.
  await until(b.page, `() => window.e2e.mx.getRoom(${JSON.stringify(roomId)})?.getMyMembership() === 'join'`, 20_000, 'bob joined');
  await b.page.evaluate(([r]) => window.e2e.joinRtc(r, { manageMediaKeys: true }), [roomId]);

  // alice opens Element Call in the room.
  const src = await a.page.evaluate(([r]) => window.e2e.openCall(r), [roomId]);
  log(`Element Call frame ${src}`);
  let callSeen = null;
  try {
    await until(a.page, `() => { const r = JSON.parse(window.e2e.report()); return r.call && r.call.participants.some((p) => p.id.startsWith('@${bob}') && p.keysDelivered > 0); }`, 20_000, "bob's key delivered to the call");
    callSeen = 'bob_key_delivered';
  } catch (e) {
    callSeen = `not reached: ${String(e.message).slice(0, 80)}`;
  }
  const report = JSON.parse(await a.page.evaluate(() => window.e2e.report()));
  writeFileSync(path.join(outDir, 'page-console.txt'), allConsole.join('\n'));
  await a.page.screenshot({ path: path.join(outDir, 'alice.png') }).catch(() => {});
  validateReport(report);
  writeFileSync(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2));
  const frame = report.capture.frames.find((f) => f.source.includes('/element-call/'));
  const p = (u) => (report.call ? report.call.participants.find((x) => x.id.startsWith(`@${u}:`)) : undefined);
  const figures = {
    frame_source: frame ? frame.source : null,
    frame_via: frame ? frame.via : null,
    frame_lines_captured: frame ? frame.lines : 0,
    frame_lines_chromium: frameApiCalls,
    frame_entries: report.entries.filter((e) => e.source !== 'host').length,
    widget_messages: report.call ? report.call.messages : 0,
    own: report.call ? report.call.own : null,
    bob_delivered: p(bob) ? p(bob).keysDelivered : null,
    bob_sent_to: p(bob) ? p(bob).keysSentTo : null,
    carol_missing: p(carol) ? p(carol).missingKeys : null,
    call_findings: report.findings.filter((f) => f.id.startsWith('call_')).map((f) => f.id).join(','),
    delayed_actions: report.call ? Object.keys(report.call.delayedEvents).join(',') : '',
    call_seen: callSeen,
    alice: aliceIds.userId,
    bob: bobIds.userId,
  };
  log(JSON.stringify(figures));
  if (!frame || frame.crossOrigin) throw fail('the Element Call frame must be adopted (same origin)', figures);
  if (!(figures.frame_lines_chromium > 0 && figures.frame_lines_captured >= figures.frame_lines_chromium)) throw fail('every console line Chromium saw from the frame must be captured, from its first script', figures);
  if (!(figures.widget_messages > 0)) throw fail('the widget API traffic must be in the report', figures);
  if (figures.frame_via !== 'insert') throw fail("the frame's first window must be wrapped at insertion (before its first script)", figures);
  // Not reached without an SFU: Element Call 0.20 asks for an OpenID token and its LiveKit JWT
  // before it sends its call membership, so no call key flows into or out of the frame here.
  // These figures say how far it got; the key and missing-key decisions are proven in the core's
  // unit tests (crates/core/src/evidence/widget.rs) on the widget API's message shapes.
  figures.not_proven = 'call keys between users (Element Call stops at its LiveKit JWT: OPEN_ID_ERROR, no SFU reachable)';
  return figures;
}
