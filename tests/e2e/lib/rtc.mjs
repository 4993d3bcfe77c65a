// Shared by the call-key scenarios: a user in their own page (a fresh browser context) on the
// e2e page, the SDK logger on or off, every console message kept whole (rust tracing records
// arrive as one message with embedded newlines), and MatrixRTC joined with the SDK's own
// to-device key transport (`joinRoomSession(foci, undefined, { manageMediaKeys: true })`).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openPage, until, validateReport } from './page.mjs';

/** Register, open a page, boot crypto-health, log in, start the client; keep its console. */
export async function rtcUser(ctx, name, { loggerOff = false } = {}) {
  const user = `${name}${Date.now().toString(36)}`;
  const password = `e2e-${name}-pw`;
  await ctx.synapse.registerUser(user, password);
  const p = await openPage(ctx);
  ctx.artifacts.cleanups.push(() => p.context.close());
  const consoleLines = [];
  p.page.on('console', (m) => consoleLines.push(`${m.type()}\t${m.text()}`));
  await p.page.evaluate(() => window.e2e.boot());
  const ids = await p.page.evaluate(([b, u, pw]) => window.e2e.login(b, u, pw), [ctx.synapse.baseUrl, user, password]);
  await p.page.evaluate((off) => window.e2e.startClient({ loggerOff: off }), loggerOff);
  await until(p.page, '() => window.e2e.api.otkHealth().uploads.accepted >= 1', 60_000, `${name}: keys uploaded`);
  await p.page.evaluate(() => window.e2e.api.watchDecryption(window.e2e.mx));
  return { name, user, password, page: p.page, context: p.context, console: consoleLines, ...ids, id: `${ids.userId}:${ids.deviceId}` };
}

/** Evict the user's rust crypto store (the session stays) and restart as the page would. */
export async function evict(u, { loggerOff = false } = {}) {
  await u.page.evaluate(() => window.e2e.stopClient());
  await u.page.reload();
  await u.page.waitForFunction(() => window.e2e !== undefined);
  const deleted = await u.page.evaluate(() => window.e2e.deleteCryptoStore());
  if (!deleted.every((d) => d.endsWith('deleted'))) throw new Error(`${u.name}: could not delete the crypto store: ${deleted}`);
  const boot = await u.page.evaluate(() => window.e2e.boot());
  await u.page.evaluate((off) => window.e2e.startClient({ loggerOff: off }), loggerOff);
  await u.page.evaluate(() => window.e2e.api.watchDecryption(window.e2e.mx));
  return boot;
}

/** Restart the page (a reload), same store, same session; the logger as asked. */
export async function restart(u, { loggerOff = false } = {}) {
  await u.page.evaluate(() => window.e2e.stopClient());
  await u.page.reload();
  await u.page.waitForFunction(() => window.e2e !== undefined);
  await u.page.evaluate(() => window.e2e.boot());
  await u.page.evaluate((off) => window.e2e.startClient({ loggerOff: off }), loggerOff);
  await u.page.evaluate(() => window.e2e.api.watchDecryption(window.e2e.mx));
}

/**
 * An encrypted room in which every member may post call memberships (state events need power
 * level 50 in a private chat; call rooms lower it for `org.matrix.msc3401.call.member`, as
 * Element Call's own rooms do).
 */
export function createCallRoom(u, invite) {
  return u.page.evaluate(async (ids) => {
    const r = await window.e2e.mx.createRoom({
      preset: 'private_chat',
      invite: ids,
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
      power_level_content_override: { events: { 'org.matrix.msc3401.call.member': 0 } },
    });
    return r.room_id;
  }, invite);
}

export async function joinCall(u, roomId) {
  await until(u.page, `() => window.e2e.mx.getRoom(${JSON.stringify(roomId)})?.getMyMembership() === 'join'`, 30_000, `${u.name} in the room`);
  await u.page.evaluate((r) => window.e2e.joinRtc(r, { manageMediaKeys: true }), roomId);
}

/** Wait until the user's session lists `n` members. */
export function untilMembers(u, n, ms = 30_000) {
  return until(u.page, `() => (window.e2e.rtcState()?.members.length ?? 0) >= ${n}`, ms, `${u.name} sees ${n} call members`);
}

/** Wait until the user's media layer got a key from every one of `ids`. */
export function untilKeysFrom(u, ids, ms = 30_000) {
  return until(u.page, `() => { const s = window.e2e.rtcState(); return s && ${JSON.stringify(ids)}.every((i) => s.keysFrom.includes(i)); }`, ms, `${u.name} has keys from ${ids.join(', ')}`);
}

export function rtcState(u) {
  return u.page.evaluate(() => window.e2e.rtcState());
}

/** The page's report, schema-validated and saved as `<name>.json`; its console as `<name>-console.txt`. */
export async function saveReport(ctx, u, name) {
  const report = JSON.parse(await u.page.evaluate(() => window.e2e.report()));
  validateReport(report);
  writeFileSync(path.join(ctx.outDir, `${name}.json`), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(path.join(ctx.outDir, `${name}-console.txt`), u.console.join('\n----\n'));
  return report;
}
