// Element Call embedded the way Cinny embeds it (cinnyapp/cinny src/app/plugins/call/CallEmbed.ts,
// CallWidgetDriver.ts, utils.ts at v4.12.6): the real @element-hq/element-call-embedded served from
// this page's own origin (/element-call/, as Cinny's vite.config.js copies it), in a sandboxed
// iframe with allow-same-origin, driven by matrix-widget-api's ClientWidgetApi on the host's
// MatrixClient. The driver is Cinny's, trimmed to what a call uses.
import * as sdk from 'matrix-js-sdk';
import { ClientWidgetApi, EventDirection, MatrixCapabilities, Widget, WidgetDriver, WidgetEventCapability } from 'matrix-widget-api';

function callCapabilities(roomId, userId, deviceId) {
  const caps = new Set([
    MatrixCapabilities.Screenshots, MatrixCapabilities.AlwaysOnScreen, MatrixCapabilities.MSC3846TurnServers,
    MatrixCapabilities.MSC4157SendDelayedEvent, MatrixCapabilities.MSC4157UpdateDelayedEvent,
    `org.matrix.msc2762.timeline:${roomId}`, `org.matrix.msc2762.state:${roomId}`,
  ]);
  const state = (dir, type, key) => caps.add(WidgetEventCapability.forStateEvent(dir, type, key).raw);
  for (const t of ['m.room.member', 'org.matrix.msc3401.call', 'm.room.encryption', 'm.room.name', 'org.matrix.msc3401.call.member', 'm.room.create']) state(EventDirection.Receive, t);
  for (const k of [userId, `_${userId}_${deviceId}_m.call`, `${userId}_${deviceId}_m.call`, `_${userId}_${deviceId}`, `${userId}_${deviceId}`]) state(EventDirection.Send, 'org.matrix.msc3401.call.member', k);
  for (const t of ['io.element.call.encryption_keys', 'org.matrix.rageshake_request', 'm.reaction', 'm.room.redaction', 'io.element.call.reaction', 'org.matrix.msc4075.rtc.notification', 'org.matrix.msc4310.rtc.decline']) {
    caps.add(WidgetEventCapability.forRoomEvent(EventDirection.Send, t).raw);
    caps.add(WidgetEventCapability.forRoomEvent(EventDirection.Receive, t).raw);
  }
  for (const t of ['m.call.invite', 'm.call.candidates', 'm.call.answer', 'm.call.hangup', 'm.call.reject', 'm.call.select_answer', 'm.call.negotiate', 'm.call.sdp_stream_metadata_changed', 'org.matrix.call.sdp_stream_metadata_changed', 'm.call.replaces', 'io.element.call.encryption_keys']) {
    caps.add(WidgetEventCapability.forToDeviceEvent(EventDirection.Send, t).raw);
    caps.add(WidgetEventCapability.forToDeviceEvent(EventDirection.Receive, t).raw);
  }
  return caps;
}

class CallWidgetDriver extends WidgetDriver {
  constructor(mx, roomId) {
    super();
    this.mx = mx;
    this.roomId = roomId;
    this.allowed = callCapabilities(roomId, mx.getSafeUserId(), mx.getDeviceId());
  }

  async validateCapabilities(requested) { return new Set([...requested].filter((c) => this.allowed.has(c))); }

  async sendEvent(type, content, stateKey = null, roomId = null) {
    const room = roomId || this.roomId;
    const r = typeof stateKey === 'string' ? await this.mx.sendStateEvent(room, type, content, stateKey) : await this.mx.sendEvent(room, type, content);
    return { roomId: room, eventId: r.event_id };
  }

  async sendDelayedEvent(delay, parentDelayId, type, content, stateKey = null, roomId = null) {
    const room = roomId || this.roomId;
    const opts = delay !== null ? { delay, ...(parentDelayId !== null && { parent_delay_id: parentDelayId }) } : { parent_delay_id: parentDelayId };
    const r = stateKey !== null
      ? await this.mx._unstable_sendDelayedStateEvent(room, opts, type, content, stateKey)
      : await this.mx._unstable_sendDelayedEvent(room, opts, null, type, content);
    return { roomId: room, delayId: r.delay_id };
  }

  async cancelScheduledDelayedEvent(id) { await this.mx._unstable_cancelScheduledDelayedEvent(id); }
  async restartScheduledDelayedEvent(id) { await this.mx._unstable_restartScheduledDelayedEvent(id); }
  async sendScheduledDelayedEvent(id) { await this.mx._unstable_sendScheduledDelayedEvent(id); }

  async sendToDevice(eventType, encrypted, contentMap) {
    if (encrypted) {
      const crypto = this.mx.getCrypto();
      const inverted = {};
      for (const userId of Object.keys(contentMap)) {
        for (const deviceId of Object.keys(contentMap[userId])) {
          const k = JSON.stringify(contentMap[userId][deviceId]);
          (inverted[k] = inverted[k] || []).push({ userId, deviceId });
        }
      }
      await Promise.all(Object.entries(inverted).map(async ([k, recipients]) => {
        const batch = await crypto.encryptToDeviceMessages(eventType, recipients, JSON.parse(k));
        await this.mx.queueToDevice(batch);
      }));
    } else {
      await this.mx.queueToDevice({ eventType, batch: Object.entries(contentMap).flatMap(([userId, m]) => Object.entries(m).map(([deviceId, payload]) => ({ userId, deviceId, payload }))) });
    }
  }

  async readRoomTimeline(roomId, eventType, msgtype, stateKey, limit, since) {
    const room = this.mx.getRoom(roomId);
    if (room === null) return [];
    const out = [];
    const events = room.getLiveTimeline().getEvents();
    for (let i = events.length - 1; i >= 0 && out.length < (limit > 0 ? limit : Infinity); i--) {
      const ev = events[i];
      if (since !== undefined && ev.getId() === since) break;
      if (ev.getType() === eventType && !ev.isState()) out.push(ev);
    }
    return out.map((e) => e.getEffectiveEvent());
  }

  async readRoomState(roomId, eventType, stateKey) {
    const state = this.mx.getRoom(roomId)?.getLiveTimeline().getState(sdk.Direction.Forward);
    if (!state) return [];
    if (stateKey === undefined) return state.getStateEvents(eventType).map((e) => e.getEffectiveEvent());
    const e = state.getStateEvents(eventType, stateKey);
    return e === null ? [] : [e.getEffectiveEvent()];
  }

  async askOpenID(observer) { return observer.update({ state: 1 /* Allowed */, token: await this.mx.getOpenIdToken() }); }
  getKnownRooms() { return this.mx.getVisibleRooms().map((r) => r.roomId); }
  processError(e) { return e instanceof sdk.MatrixError ? { matrix_api_error: e.asWidgetApiErrorData() } : undefined; }
}

/** CallEmbed's widget, iframe and ClientWidgetApi, with its event feeding. Returns the embed. */
export function openCall(mx, roomId, container) {
  const userId = mx.getSafeUserId();
  const deviceId = mx.getDeviceId() ?? '';
  const room = mx.getRoom(roomId);
  const params = new URLSearchParams({
    widgetId: 'call-embed', parentUrl: window.location.origin, baseUrl: mx.baseUrl, roomId, userId, deviceId,
    intent: 'join_existing', skipLobby: 'true', confineToRoom: 'true', appPrompt: 'false',
    perParticipantE2EE: String(room.hasEncryptionStateEvent()), lang: 'en-EN', theme: 'dark', header: 'none',
  });
  const url = new URL('./element-call/index.html', window.location.href);
  url.search = params.toString();
  const widget = new Widget({ id: 'call-embed', creatorUserId: userId, name: 'Call', type: 'm.call', url: url.href, waitForIframeLoad: false, data: {} });
  const iframe = document.createElement('iframe');
  iframe.title = 'Call Embed';
  iframe.sandbox = 'allow-forms allow-scripts allow-same-origin allow-popups allow-modals allow-downloads';
  iframe.allow = 'microphone; camera; display-capture; autoplay; clipboard-write;';
  iframe.src = widget.getCompleteUrl({ currentUserId: userId });
  iframe.style.width = '100%';
  iframe.style.height = '400px';
  container.append(iframe);
  const call = new ClientWidgetApi(widget, iframe, new CallWidgetDriver(mx, roomId));
  call.setViewedRoomId(roomId);
  const feed = (ev) => { call.feedEvent(ev.getEffectiveEvent()).catch(() => {}); };
  mx.on(sdk.ClientEvent.Event, (ev) => { mx.decryptEventIfNeeded(ev); feed(ev); });
  mx.on(sdk.RoomStateEvent.Events, (ev) => { call.feedStateUpdate(ev.getEffectiveEvent()).catch((e) => console.error('Error sending state update to widget: ', e)); });
  mx.on(sdk.ClientEvent.ToDeviceEvent, async (ev) => {
    await mx.decryptEventIfNeeded(ev);
    if (ev.isDecryptionFailure()) return;
    await call.feedToDevice(ev.getEffectiveEvent(), ev.isEncrypted());
  });
  return { call, iframe };
}
