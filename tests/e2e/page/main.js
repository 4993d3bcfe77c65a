// The end-to-end page: a minimal Cinny-shaped client on the real matrix-js-sdk with rust crypto,
// plus crypto-health installed at entry the way docs/INTEGRATION.md tells a fork to. The
// scenarios in tests/e2e/scenarios drive it through `window.e2e`.
//
// Like Cinny: the session lives in localStorage (cinny_* keys, cinnyapp/cinny vite.config.js, src/client/initMatrix.ts), the sync store is
// IndexedDB `web-sync-store`, the rust crypto store is the SDK's default `matrix-js-sdk::*`, and in
// "production" the SDK logger is disabled (matrix-js-sdk's logger; Cinny before May 2025 called logger.disableAll() in src/client/initMatrix.ts).
import { startCryptoHealth } from 'crypto-health';
import * as sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';
import { openCall } from './call.js';

const status = document.getElementById('status');
const recoveries = [];
let api = null;
let mx = null;
let syncs = 0; // completed sync responses, for scenarios that count in syncs rather than seconds

const session = {
  get() {
    const g = (k) => localStorage.getItem(k);
    const s = { baseUrl: g('cinny_hs_base_url'), accessToken: g('cinny_access_token'), userId: g('cinny_user_id'), deviceId: g('cinny_device_id') };
    return s.accessToken && s.userId && s.deviceId ? s : null;
  },
  set(baseUrl, r) {
    localStorage.setItem('cinny_hs_base_url', baseUrl);
    localStorage.setItem('cinny_access_token', r.access_token);
    localStorage.setItem('cinny_user_id', r.user_id);
    localStorage.setItem('cinny_device_id', r.device_id);
  },
  clear() {
    for (const k of ['cinny_hs_base_url', 'cinny_access_token', 'cinny_user_id', 'cinny_device_id']) localStorage.removeItem(k);
  },
};

function waitFor(cond, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const tick = () => {
      let v;
      try { v = cond(); } catch (e) { reject(e); return; }
      if (v) { resolve(v); return; }
      if (performance.now() - t0 > timeoutMs) { reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); return; }
      setTimeout(tick, 50);
    };
    tick();
  });
}

window.e2e = {
  recoveries,
  session,
  waitFor,
  get api() { return api; },
  get mx() { return mx; },
  get syncs() { return syncs; },

  /** App entry: crypto-health first (before the SDK creates anything). */
  async boot(options = {}) {
    const r = await startCryptoHealth({ reportPrefix: 'lotus-crypto-diag', ...options });
    api = r.api;
    api.onRecoveryNeeded((e) => recoveries.push(e));
    status.textContent = 'booted';
    return { installed: r.installed, httpTap: r.httpTap, storage: r.storage, finding: r.finding, tabGuard: r.tabGuard ?? null };
  },

  /** Password login; the session goes to localStorage as Cinny keeps it. */
  async login(baseUrl, user, password) {
    const c = sdk.createClient({ baseUrl });
    const r = await c.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, initial_device_display_name: 'crypto-health e2e' });
    session.set(baseUrl, r);
    return { userId: r.user_id, deviceId: r.device_id };
  },

  /** Cinny's initClient + startClient. `loggerOff` as production Cinny does. */
  async startClient({ loggerOff = true, pollTimeout = 1000 } = {}) {
    const s = session.get();
    if (!s) throw new Error('no session in localStorage');
    if (loggerOff) logger.disableAll();
    else logger.enableAll();
    const store = new sdk.IndexedDBStore({ indexedDB: window.indexedDB, localStorage: window.localStorage, dbName: 'web-sync-store' });
    mx = sdk.createClient({ baseUrl: s.baseUrl, accessToken: s.accessToken, userId: s.userId, deviceId: s.deviceId, store, timelineSupport: true });
    await store.startup();
    await mx.initRustCrypto();
    mx.on(sdk.ClientEvent.Sync, (state) => { if (state === 'SYNCING' || state === 'PREPARED') syncs++; });
    const prepared = new Promise((resolve) => {
      const on = (state) => {
        if (state === 'PREPARED' || state === 'SYNCING') { mx.off(sdk.ClientEvent.Sync, on); resolve(); }
      };
      mx.on(sdk.ClientEvent.Sync, on);
    });
    await mx.startClient({ lazyLoadMembers: true, pollTimeout, initialSyncLimit: 5 });
    await prepared;
    status.textContent = `syncing as ${s.userId} ${s.deviceId}`;
    return { userId: s.userId, deviceId: s.deviceId, crypto: mx.getCrypto()?.getVersion?.() ?? null };
  },

  stopClient() {
    if (mx) mx.stopClient();
    mx = null;
  },

  /** What a reset or eviction does: the crypto store goes, the session stays. */
  async deleteCryptoStore() {
    const names = ['matrix-js-sdk::matrix-sdk-crypto', 'matrix-js-sdk::matrix-sdk-crypto-meta'];
    const results = [];
    for (const name of names) {
      results.push(await new Promise((resolve) => {
        const req = indexedDB.deleteDatabase(name);
        req.onsuccess = () => resolve(`${name}: deleted`);
        req.onerror = () => resolve(`${name}: ${req.error}`);
        req.onblocked = () => resolve(`${name}: blocked`);
      }));
    }
    return results;
  },

  /** Remediation 1: a real logout (the server deletes the device), then everything local goes. */
  async logout() {
    if (!mx) throw new Error('no client');
    await mx.logout(true);
    mx.stopClient();
    await mx.clearStores();
    mx = null;
    session.clear();
  },

  async createEncryptedRoom(invite) {
    const r = await mx.createRoom({
      preset: 'private_chat',
      invite,
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    return r.room_id;
  },

  async join(roomId) {
    await waitFor(() => mx.getRoom(roomId), 20000, `invite to ${roomId}`);
    await mx.joinRoom(roomId);
  },

  async send(roomId, body) {
    await waitFor(() => mx.getRoom(roomId)?.hasEncryptionStateEvent(), 20000, 'room encryption state');
    const r = await mx.sendMessage(roomId, { msgtype: 'm.text', body });
    return r.event_id;
  },

  /** Plain texts of the decrypted messages this client holds for a room. */
  async texts(roomId) {
    const room = mx.getRoom(roomId);
    if (!room) return [];
    const events = room.getLiveTimeline().getEvents().filter((e) => e.getType() === 'm.room.message' || e.isEncrypted());
    return events.map((e) => (e.isDecryptionFailure() ? `UTD:${e.decryptionFailureReason}` : e.getContent()?.body)).filter(Boolean);
  },

  /**
   * Join a MatrixRTC session in the room with the SDK's own MembershipManager (matrix-js-sdk
   * src/matrixrtc): a delayed leave event, the membership state event, then periodic restarts.
   * No SFU is reachable here: the focus is only advertised, no media flows.
   */
  joinRtc(roomId, joinConfig = {}) {
    const room = mx.getRoom(roomId);
    if (!room) throw new Error(`no room ${roomId}`);
    const rtc = mx.matrixRTC.getRoomSession(room);
    // Every media key the session hands to the media layer (its own and each peer's), as
    // MatrixRTCSessionEvent.EncryptionKeyChanged ('encryption_key_changed') reports it: `@user:server:DEVICE` and the index.
    const keys = [];
    rtc.on('encryption_key_changed', (_key, index, membership) => {
      keys.push({ from: `${membership.userId}:${membership.deviceId}`, index, at: Date.now() });
    });
    rtc.joinRoomSession([{ type: 'livekit', livekit_service_url: 'http://127.0.0.1:9/livekit/jwt', livekit_alias: roomId }], undefined, joinConfig);
    window.e2e.rtc = rtc;
    window.e2e.rtcKeys = keys;
    return rtc.isJoined();
  },

  /** What the joined MatrixRTC session says: members, keys handed to the media layer, counters. */
  rtcState() {
    const rtc = window.e2e.rtc;
    if (!rtc) return null;
    return {
      members: rtc.memberships.map((m) => `${m.sender}:${m.deviceId}`),
      keysFrom: [...new Set((window.e2e.rtcKeys ?? []).map((k) => k.from))],
      counters: { ...rtc.statistics.counters },
    };
  },

  /** Element Call in a same-origin iframe, driven like Cinny's CallEmbed (./call.js). */
  openCall(roomId) {
    const embed = openCall(mx, roomId, document.body);
    window.e2e.callEmbed = embed;
    return embed.iframe.src.split('?')[0];
  },

  async leaveRtc() {
    if (window.e2e.rtc) await window.e2e.rtc.leaveRoomSession(5000);
  },

  report() {
    return api.buildCryptoDiagReport(mx, { appVersion: 'e2e', sdkVersion: __SDK_VERSION__ });
  },

  download() {
    return api.downloadCryptoDiagReport(mx, { appVersion: 'e2e', sdkVersion: __SDK_VERSION__ });
  },
};

// `?guard=1`: boot at load with the tab guard (autoTakeover), as a fork's entry would, and start
// the client only in the primary tab. The tab scenarios read roles from the window event.
if (new URLSearchParams(location.search).get('guard') === '1') {
  window.e2e.boot({ tabGuard: { autoTakeover: true } }).then(async (r) => {
    status.textContent = `tab guard: ${r.tabGuard}`;
    if (r.tabGuard === 'primary' && session.get()) await window.e2e.startClient();
  });
} else {
  status.textContent = 'ready';
}
