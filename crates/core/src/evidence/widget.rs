//! Call evidence from the widget API: the `postMessage` traffic between the
//! host and a call frame (matrix-org/matrix-widget-api: requests
//! `{api, widgetId, requestId, action, data}`, the answer is the same object
//! with `response` added and travels back the other way).
//!
//! Read only, and only ids, indexes and times are kept: a call key's `key` is
//! private material and never leaves the message. What it tells:
//! - which participants' call keys (`io.element.call.encryption_keys`) the
//!   host delivered into the call (`toWidget send_to_device`, acknowledged),
//!   and to whom the call sent its own (`fromWidget send_to_device`);
//! - which call members (`org.matrix.msc3401.call.member`) never had a key
//!   delivered after a grace period: missing keys for that participant (KE-2);
//! - delayed-event actions (`send_event` with `delay`,
//!   `org.matrix.msc4157.update_delayed_event`) with request→response latency
//!   (KE-4).

use crate::evidence::http::DELAYED_EVENT_LOCAL_TIMEOUT_MS;
use crate::evidence::redact::{redact, RedactionCounts};
use crate::evidence::signature::Class;
use crate::report::finding::{Finding, Level};
use crate::support::map::SortedMap;
use crate::support::obj;
use crate::support::text::{head, iso8601, truncate_marked};
use serde_json::Value;

pub const CALL_KEYS: &str = "io.element.call.encryption_keys";
const CALL_MEMBER: [&str; 3] = ["org.matrix.msc3401.call.member", "org.matrix.msc4143.rtc.member", "m.rtc.member"];
const UPDATE_DELAYED: &str = "org.matrix.msc4157.update_delayed_event";
/// A member without a delivered key after this long is missing keys. Element
/// Call rotates keys within 5 s of a join (its config `wait_for_key_rotation_ms`).
pub const KEY_GRACE_MS: u64 = 10_000;
/// Messages above this are counted, not read (memory, time).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
const MAX_PARTICIPANTS: usize = 256;
const MAX_PENDING: usize = 256;
const MAX_ERROR_BYTES: usize = 512;

/// One participant of the call as the widget traffic shows it (`@user:server:DEVICE`,
/// the identity LiveKit's `missing key … for participant` lines use).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub id: String,
    /// First time a membership of this device was seen (Unix ms).
    pub joined_at: Option<u64>,
    /// The membership was seen emptied (left the call).
    pub left: bool,
    /// Our call key was sent to this device (the host acknowledged the send).
    pub keys_sent_to: u64,
    pub keys_send_failed: u64,
    /// Their call keys handed to the call by the host (requests seen).
    pub keys_offered: u64,
    /// … and acknowledged by the call without error.
    pub keys_delivered: u64,
    pub last_key_index: Option<u64>,
    pub first_delivered_at: Option<u64>,
    /// Decided when the report is built: a member for [`KEY_GRACE_MS`] with no key delivered.
    pub missing_keys: bool,
}

/// One kind of delayed-event action and how long the host took to answer it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelayedAction {
    pub requests: u64,
    pub answered: u64,
    pub errors: u64,
    /// Answers slower than the SDK's 2 s local timeout.
    pub over_local_timeout: u64,
    pub max_ms: u64,
    pub total_ms: u64,
    pub last_error: Option<String>,
}

/// The `call` section of the report.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallEvidence {
    /// Widget API messages seen (requests and answers, both directions).
    pub messages: u64,
    /// Messages that were not JSON objects or too big to read.
    pub unreadable: u64,
    pub widget_ids: Vec<String>,
    /// This device in the call, once the call sent its own membership.
    pub own: Option<String>,
    pub participants: Vec<Participant>,
    /// Keyed `schedule` (a `send_event` with a delay), `restart`, `send`, `cancel`.
    pub delayed_events: SortedMap<DelayedAction>,
    /// Requests still waiting for an answer (delayed-event and key sends).
    pub pending: u64,
    /// Keys between this device and each peer, from `/sync` and the SDK's lines
    /// (crate::evidence::peer_keys): whichever call client runs, widget or not.
    #[serde(default)]
    pub peers: Vec<crate::evidence::peer_keys::PeerKeys>,
}

#[derive(Debug, Default)]
pub struct CallMonitor {
    ev: CallEvidence,
    /// Delayed-event requests waiting for their answer: (direction, widget, request id), action, time.
    // A Vec, not a VecDeque: bounded at MAX_PENDING, and one ring type less in the wasm.
    pending: Vec<((bool, String, String), String, u64)>,
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// `@user:server` + `DEVICE` → `@user:server:DEVICE`.
fn identity(user: &str, device: &str) -> String {
    format!("{user}:{device}")
}

impl CallMonitor {
    pub fn is_empty(&self) -> bool {
        self.ev.messages == 0
    }

    /// One `message` event's data, as JSON text. Only widget-API shaped
    /// objects count; anything else is ignored.
    pub fn message(&mut self, text: &str, redactions: &mut RedactionCounts, now: u64) {
        if text.len() > MAX_MESSAGE_BYTES {
            self.ev.messages += 1;
            self.ev.unreadable += 1;
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            self.ev.messages += 1;
            self.ev.unreadable += 1;
            return;
        };
        let from_widget = match str_of(&v, "api") {
            Some("fromWidget") => true,
            Some("toWidget") => false,
            _ => return,
        };
        let (Some(action), Some(widget_id)) = (str_of(&v, "action"), str_of(&v, "widgetId")) else { return };
        self.ev.messages += 1;
        if !self.ev.widget_ids.iter().any(|w| w == widget_id) && self.ev.widget_ids.len() < 8 {
            self.ev.widget_ids.push(widget_id.to_owned());
        }
        let request_id = str_of(&v, "requestId").unwrap_or_default();
        let key = (from_widget, widget_id.to_owned(), request_id.to_owned());
        let data = v.get("data").unwrap_or(&Value::Null);
        match v.get("response") {
            None => self.request(from_widget, action, data, key, now),
            Some(resp) => {
                let error = resp.get("error").map(|e| {
                    let m = str_of(e, "message").unwrap_or("error");
                    // Cut before redacting: a widget's text costs at most the cap's worth of work.
                    truncate_marked(&redact(head(m, MAX_ERROR_BYTES), redactions), MAX_ERROR_BYTES).0
                });
                self.answer(from_widget, action, data, error, key, now);
            }
        }
    }

    fn request(&mut self, from_widget: bool, action: &str, data: &Value, key: (bool, String, String), now: u64) {
        match (from_widget, action) {
            (true, "send_event") => {
                self.member_events(std::slice::from_ref(data), true, now);
                if data.get("delay").is_some() || data.get("parent_delay_id").is_some() {
                    self.delayed_request("schedule", key, now);
                }
            }
            (true, UPDATE_DELAYED) => {
                let what = str_of(data, "action").filter(|a| matches!(*a, "restart" | "send" | "cancel")).unwrap_or("update");
                self.delayed_request(what, key, now);
            }
            (false, "send_to_device") if str_of(data, "type") == Some(CALL_KEYS) => {
                if let Some(id) = Self::key_sender(data) {
                    let index = Self::key_index(data.get("content"));
                    if let Some(p) = self.participant(&id) {
                        p.keys_offered += 1;
                        if index.is_some() {
                            p.last_key_index = index;
                        }
                    }
                }
            }
            (false, "send_event") => self.member_events(std::slice::from_ref(data), false, now),
            (false, "update_state") => {
                if let Some(Value::Array(events)) = data.get("state") {
                    self.member_events(events, false, now);
                }
            }
            _ => {}
        }
    }

    fn answer(&mut self, from_widget: bool, action: &str, data: &Value, error: Option<String>, key: (bool, String, String), now: u64) {
        if let Some((_, what, at)) = self.pending.iter().position(|(k, _, _)| *k == key).map(|i| self.pending.remove(i)) {
            let d = self.ev.delayed_events.or_default(&what);
            let ms = now.saturating_sub(at);
            d.answered += 1;
            d.total_ms += ms;
            d.max_ms = d.max_ms.max(ms);
            if ms > DELAYED_EVENT_LOCAL_TIMEOUT_MS {
                d.over_local_timeout += 1;
            }
            if error.is_some() {
                d.errors += 1;
                d.last_error = error.clone();
            }
        }
        match (from_widget, action) {
            (true, "send_to_device") if str_of(data, "type") == Some(CALL_KEYS) => {
                let Some(Value::Object(messages)) = data.get("messages") else { return };
                for (user, devices) in messages {
                    let Value::Object(devices) = devices else { continue };
                    for device in devices.keys() {
                        if let Some(p) = self.participant(&identity(user, device)) {
                            if error.is_some() {
                                p.keys_send_failed += 1;
                            } else {
                                p.keys_sent_to += 1;
                            }
                        }
                    }
                }
            }
            (false, "send_to_device") if str_of(data, "type") == Some(CALL_KEYS) && error.is_none() => {
                if let Some(id) = Self::key_sender(data) {
                    if let Some(p) = self.participant(&id) {
                        p.keys_delivered += 1;
                        p.first_delivered_at.get_or_insert(now);
                    }
                }
            }
            _ => {}
        }
    }

    fn delayed_request(&mut self, what: &str, key: (bool, String, String), now: u64) {
        self.ev.delayed_events.or_default(what).requests += 1;
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push((key, what.to_owned(), now));
    }

    /// The device whose key this is: the sender and the device the key names
    /// (`member.claimed_device_id`, matrix-js-sdk src/matrixrtc/ToDeviceKeyTransport.ts).
    fn key_sender(data: &Value) -> Option<String> {
        let device = str_of(data.get("content")?.get("member")?, "claimed_device_id")?;
        Some(identity(str_of(data, "sender")?, device))
    }

    fn key_index(content: Option<&Value>) -> Option<u64> {
        content?.get("keys")?.get("index")?.as_u64()
    }

    /// Call memberships among these events. `own`: the call sent it (no sender:
    /// user and device are in the state key `_@user:server_DEVICE_m.call`).
    fn member_events(&mut self, events: &[Value], own: bool, now: u64) {
        for e in events.iter().take(MAX_PARTICIPANTS) {
            if !str_of(e, "type").is_some_and(|t| CALL_MEMBER.contains(&t)) {
                continue;
            }
            let content = e.get("content").unwrap_or(&Value::Null);
            let empty = content.as_object().is_none_or(|c| c.is_empty());
            let member = content.get("member").unwrap_or(&Value::Null);
            // The state key names user and device (`_@u:hs_DEV_m.call`, `@u:hs_DEV`); a leave has nothing else.
            let keyed = str_of(e, "state_key").and_then(|sk| {
                let sk = sk.trim_start_matches('_');
                sk.strip_suffix("_m.call").unwrap_or(sk).rsplit_once('_')
            });
            let device = str_of(member, "device_id").or_else(|| str_of(content, "device_id")).or(keyed.map(|k| k.1));
            let user = str_of(member, "user_id").or_else(|| str_of(e, "sender")).or(keyed.map(|k| k.0));
            let (Some(user), Some(device)) = (user, device) else { continue };
            let id = identity(user, device);
            if own {
                if !empty {
                    self.ev.own = Some(id);
                }
            } else if let Some(p) = self.participant(&id) {
                p.left = empty;
                if !empty {
                    p.joined_at.get_or_insert(now);
                }
            }
        }
    }

    fn participant(&mut self, id: &str) -> Option<&mut Participant> {
        match self.ev.participants.iter().position(|p| p.id == id) {
            Some(i) => Some(&mut self.ev.participants[i]),
            None if self.ev.participants.len() < MAX_PARTICIPANTS => {
                self.ev.participants.push(Participant { id: id.to_owned(), ..Default::default() });
                self.ev.participants.last_mut()
            }
            None => None,
        }
    }

    /// The section at `now`: who is missing keys is decided here. `own`: this
    /// device as the session knows it (never missing its own key).
    pub fn evidence(&self, own: Option<&str>, now: u64) -> CallEvidence {
        let mut ev = self.ev.clone();
        ev.pending = self.pending.len() as u64;
        let me = ev.own.clone().or_else(|| own.map(str::to_owned));
        for p in &mut ev.participants {
            p.missing_keys = Some(p.id.as_str()) != me.as_deref()
                && !p.left
                && p.keys_delivered == 0
                && p.joined_at.is_some_and(|t| now.saturating_sub(t) >= KEY_GRACE_MS);
        }
        ev
    }

    /// Findings for the section: missing keys (KE-2), slow or failing
    /// delayed-event actions (KE-4).
    pub fn findings(ev: &CallEvidence, now: u64) -> Vec<Finding> {
        let mut out = Vec::new();
        let ids: Vec<&str> = ev.participants.iter().filter(|p| p.missing_keys).map(|p| p.id.as_str()).collect();
        if !ids.is_empty() {
            out.push(Finding {
                id: "call_keys_missing".into(),
                ke: Some(Class::Ke2),
                level: Level::Warning,
                title: "a call member's media keys never reached the call".into(),
                detail: format!("{} participant(s) in the call for over 10 s without one call key delivered to the call; their media cannot be decrypted.", ids.len()),
                ts: now,
                at: iso8601(now),
                evidence: obj!({"participants": ids, "graceMs": KEY_GRACE_MS}),
            });
        }
        let (mut bad, mut max_ms) = (0, 0);
        for d in ev.delayed_events.values() {
            bad += d.over_local_timeout + d.errors;
            max_ms = max_ms.max(d.max_ms);
        }
        if bad > 0 {
            out.push(Finding {
                id: "call_delayed_events_slow".into(),
                ke: Some(Class::Ke4),
                level: Level::Warning,
                title: "the call's delayed-event actions are slow or fail".into(),
                detail: format!(
                    "{bad} delayed-event action(s) of the call answered after more than 2000 ms or with an error (slowest {max_ms} ms)."
                ),
                ts: now,
                at: iso8601(now),
                evidence: obj!({"slowOrFailed": bad, "maxMs": max_ms, "localTimeoutMs": DELAYED_EVENT_LOCAL_TIMEOUT_MS}),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const W: &str = "call-embed";

    fn msg(m: &mut CallMonitor, v: Value, now: u64) {
        m.message(&v.to_string(), &mut RedactionCounts::default(), now);
    }

    fn key_to_widget(sender: &str, device: &str, index: u64, rid: &str) -> Value {
        json!({"api": "toWidget", "widgetId": W, "requestId": rid, "action": "send_to_device", "data": {
            "type": CALL_KEYS, "sender": sender, "encrypted": true,
            "content": {"keys": {"index": index, "key": "c2VjcmV0IGtleSBtYXRlcmlhbA"}, "member": {"claimed_device_id": device}, "room_id": "!r:hs"}}})
    }

    fn member(sender: &str, device: &str) -> Value {
        json!({"type": "org.matrix.msc3401.call.member", "sender": sender, "state_key": format!("_{sender}_{device}_m.call"),
               "content": {"application": "m.call", "call_id": "", "device_id": device, "scope": "m.room"}})
    }

    #[test]
    fn a_member_without_a_delivered_key_is_missing_keys_after_the_grace_period() {
        let mut m = CallMonitor::default();
        let state = json!({"api": "toWidget", "widgetId": W, "requestId": "s1", "action": "update_state", "data": {"state": [member("@bob:hs", "BOB"), member("@carol:hs", "CAROL")]}});
        msg(&mut m, state, 1_000);
        // Bob's key is handed to the call and acknowledged; Carol's never comes.
        let req = key_to_widget("@bob:hs", "BOB", 0, "k1");
        msg(&mut m, req.clone(), 2_000);
        let mut ack = req;
        ack["response"] = json!({});
        msg(&mut m, ack, 2_010);
        let early = m.evidence(None, 5_000);
        assert!(early.participants.iter().all(|p| !p.missing_keys), "within the grace period nobody is missing");
        let ev = m.evidence(None, 1_000 + KEY_GRACE_MS);
        let p = |id: &str| ev.participants.iter().find(|p| p.id == id).unwrap().clone();
        assert_eq!((p("@bob:hs:BOB").keys_delivered, p("@bob:hs:BOB").missing_keys, p("@bob:hs:BOB").last_key_index), (1, false, Some(0)));
        assert_eq!((p("@carol:hs:CAROL").keys_delivered, p("@carol:hs:CAROL").missing_keys), (0, true));
        let f = CallMonitor::findings(&ev, 20_000);
        assert_eq!(
            (f.len(), f[0].id.as_str(), f[0].evidence["participants"][0].as_str()),
            (1, "call_keys_missing", Some("@carol:hs:CAROL"))
        );
        // Key material never enters the evidence.
        assert!(!serde_json::to_string(&ev).unwrap().contains("c2VjcmV0"));
    }

    #[test]
    fn an_unacknowledged_or_refused_delivery_is_not_delivered_and_a_leave_clears_missing() {
        let mut m = CallMonitor::default();
        msg(
            &mut m,
            json!({"api": "toWidget", "widgetId": W, "requestId": "e1", "action": "send_event", "data": member("@bob:hs", "BOB")}),
            0,
        );
        msg(&mut m, key_to_widget("@bob:hs", "BOB", 1, "k1"), 10);
        let mut refused = key_to_widget("@bob:hs", "BOB", 1, "k1");
        refused["response"] = json!({"error": {"message": "not allowed"}});
        msg(&mut m, refused, 20);
        let ev = m.evidence(None, KEY_GRACE_MS);
        assert_eq!((ev.participants[0].keys_offered, ev.participants[0].keys_delivered, ev.participants[0].missing_keys), (1, 0, true));
        let mut leave = member("@bob:hs", "BOB");
        leave["content"] = json!({});
        msg(&mut m, json!({"api": "toWidget", "widgetId": W, "requestId": "e2", "action": "send_event", "data": leave}), 30);
        assert!(!m.evidence(None, KEY_GRACE_MS).participants[0].missing_keys);
    }

    #[test]
    fn own_keys_sent_to_recipients_and_own_device_never_missing() {
        let mut m = CallMonitor::default();
        let own = json!({"api": "fromWidget", "widgetId": W, "requestId": "o1", "action": "send_event", "data": {
            "type": "org.matrix.msc3401.call.member", "state_key": "_@alice:hs_ALICE_m.call", "content": {"device_id": "ALICE", "application": "m.call"}}});
        msg(&mut m, own, 0);
        msg(
            &mut m,
            json!({"api": "toWidget", "widgetId": W, "requestId": "s", "action": "update_state", "data": {"state": [member("@alice:hs", "ALICE")]}}),
            0,
        );
        let send = json!({"api": "fromWidget", "widgetId": W, "requestId": "t1", "action": "send_to_device", "data": {
            "type": CALL_KEYS, "encrypted": true, "messages": {"@bob:hs": {"BOB": {"keys": {"index": 0, "key": "SECRETKEY"}}}, "@carol:hs": {"CAROL": {}}}}});
        let mut ok = send.clone();
        ok["response"] = json!({});
        msg(&mut m, send, 5);
        msg(&mut m, ok, 9);
        let ev = m.evidence(None, 60_000);
        assert_eq!(ev.own.as_deref(), Some("@alice:hs:ALICE"));
        let sent: Vec<_> = ev.participants.iter().filter(|p| p.keys_sent_to == 1).map(|p| p.id.as_str()).collect();
        assert_eq!(sent, ["@bob:hs:BOB", "@carol:hs:CAROL"]);
        assert!(ev.participants.iter().all(|p| !p.missing_keys), "own device and non-members are not missing");
    }

    #[test]
    fn delayed_event_actions_are_timed_from_request_to_answer() {
        let mut m = CallMonitor::default();
        let sched = json!({"api": "fromWidget", "widgetId": W, "requestId": "d1", "action": "send_event", "data": {"type": "org.matrix.msc3401.call.member", "state_key": "_@a:hs_A_m.call", "content": {}, "delay": 18000}});
        msg(&mut m, sched.clone(), 1_000);
        let mut done = sched;
        done["response"] = json!({"room_id": "!r:hs", "delay_id": "syd_x"});
        msg(&mut m, done, 1_120);
        for (i, (ms, err)) in [(150u64, false), (2_600, false), (300, true)].into_iter().enumerate() {
            let r = json!({"api": "fromWidget", "widgetId": W, "requestId": format!("u{i}"), "action": UPDATE_DELAYED, "data": {"delay_id": "syd_x", "action": "restart"}});
            let t = 10_000 * (i as u64 + 1);
            msg(&mut m, r.clone(), t);
            let mut a = r;
            a["response"] =
                if err { json!({"error": {"message": "HTTP 502 access_token=syt_YWxpY2U_abcdefghijkl_0a1b2c"}}) } else { json!({}) };
            msg(&mut m, a, t + ms);
        }
        // A request never answered stays pending.
        msg(
            &mut m,
            json!({"api": "fromWidget", "widgetId": W, "requestId": "u9", "action": UPDATE_DELAYED, "data": {"delay_id": "syd_x", "action": "restart"}}),
            90_000,
        );
        let ev = m.evidence(None, 100_000);
        assert_eq!(ev.delayed_events["schedule"].max_ms, 120);
        let r = &ev.delayed_events["restart"];
        assert_eq!((r.requests, r.answered, r.errors, r.over_local_timeout, r.max_ms, r.total_ms), (4, 3, 1, 1, 2_600, 3_050));
        assert!(!r.last_error.as_deref().unwrap().contains("syt_YWxpY2U"));
        assert_eq!(ev.pending, 1);
        let f = CallMonitor::findings(&ev, 100_000);
        assert_eq!(
            (f[0].id.as_str(), f[0].ke.map(Class::as_str), f[0].evidence["maxMs"].as_u64(), f[0].evidence["slowOrFailed"].as_u64()),
            ("call_delayed_events_slow", Some("KE-4"), Some(2_600), Some(2))
        );
    }

    #[test]
    fn foreign_and_bad_messages_are_harmless_and_bounded() {
        let mut m = CallMonitor::default();
        m.message("not json", &mut RedactionCounts::default(), 1);
        m.message(&"x".repeat(MAX_MESSAGE_BYTES + 1), &mut RedactionCounts::default(), 1);
        msg(&mut m, json!({"type": "webpackOk"}), 1);
        msg(&mut m, json!({"api": "toWidget"}), 1);
        assert_eq!((m.ev.messages, m.ev.unreadable), (2, 2));
        for i in 0..(MAX_PARTICIPANTS + 50) {
            msg(
                &mut m,
                json!({"api": "toWidget", "widgetId": W, "requestId": i.to_string(), "action": "send_event", "data": member(&format!("@u{i}:hs"), "D")}),
                1,
            );
        }
        for i in 0..(MAX_PENDING + 50) {
            msg(
                &mut m,
                json!({"api": "fromWidget", "widgetId": W, "requestId": format!("p{i}"), "action": UPDATE_DELAYED, "data": {"action": "restart"}}),
                1,
            );
        }
        let ev = m.evidence(None, 1);
        assert_eq!((ev.participants.len(), ev.pending), (MAX_PARTICIPANTS, MAX_PENDING as u64));
    }
}
