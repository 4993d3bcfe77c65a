//! Keys between this device and each peer, as this device sees them. Call
//! media keys travel as Olm-encrypted to-device events
//! (`io.element.call.encryption_keys`, matrix-js-sdk
//! src/matrixrtc/ToDeviceKeyTransport.ts), so a call key that cannot be
//! decrypted here is an Olm event that cannot be, and the SDK drops it without
//! a word to the call (src/rust-crypto/rust-crypto.ts): on the device that
//! cannot hear, KE-2 is an absence. What shows it:
//! - `/sync` (logger-independent): every to-device `m.room.encrypted` names
//!   the curve25519 keys it was encrypted for (the keys of
//!   `content.ciphertext`). One not for this device's current key was
//!   encrypted for an identity this device lost (KE-1): undecryptable here.
//! - the SDK's rust tracing when its logger is on (matrix-org/matrix-rust-sdk
//!   crates/matrix-sdk-crypto): `Olm event doesn't contain a ciphertext for
//!   our key` (olm/account.rs), `Received an unexpected encrypted to-device
//!   event … io.element.call.encryption_keys` (a call key that arrived,
//!   machine/mod.rs), `Failed to verify the signature of a one-time key`
//!   (session_manager/sessions.rs: this device cannot reach the peer, whose
//!   one-time keys on the server were signed by an identity it lost: KE-1 on
//!   the peer), `Rejecting device update … SigningKeyChanged`
//!   (identities/manager.rs: the peer uploaded a new identity under an old
//!   device id, this client keeps the old one).
//!
//! Bounded: at most [`MAX_PEERS`] peers, [`MAX_IDS`] message ids and keys each.

use crate::evidence::signature::Class;
use crate::report::finding::{Finding, Level};
use crate::support::obj;
use crate::support::text::{head, iso8601};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The Olm algorithm of to-device `m.room.encrypted` events.
pub const OLM_V1: &str = "m.olm.v1.curve25519-aes-sha2";
/// Peers followed at once.
pub const MAX_PEERS: usize = 64;
/// Message ids and recipient keys kept per peer (the latest).
pub const MAX_IDS: usize = 8;
const MAX_STR: usize = 128;

/// One peer: a user, with its device or its curve25519 key when known.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerKeys {
    /// The peer's user (`@user:server`).
    pub user_id: String,
    /// Named by the SDK's lines about the peer (a refused update, an unreachable device).
    pub device_id: Option<String>,
    /// The peer's curve25519 key, as its Olm messages carry it (`sender_key`).
    pub sender_key: Option<String>,
    /// Keys from the peer to this device: `received` (a call key decrypted),
    /// `undecryptable` (encrypted for a key this device no longer has), or
    /// `unknown` (nothing says either).
    pub incoming: String,
    /// Keys from this device to the peer: `unreachable` (no Olm session can be
    /// built: the peer's one-time keys were signed by another identity) or `unknown`.
    pub outgoing: String,
    /// Olm to-device events from the peer encrypted for this device's current key.
    pub olm_for_us: u64,
    /// Olm to-device events from the peer encrypted for another key: undecryptable here.
    pub olm_not_for_us: u64,
    /// The keys those were encrypted for (an identity this device lost).
    pub encrypted_for: Vec<String>,
    /// `org.matrix.msgid` of the undecryptable events (the latest).
    pub msgids: Vec<String>,
    /// Call keys from the peer decrypted here (the SDK's line after decryption).
    pub call_keys_arrived: u64,
    /// The SDK's lines: an Olm event from this peer had no ciphertext for our key.
    pub missing_ciphertext_lines: u64,
    /// The SDK's lines: this device could not build an Olm session to the peer.
    pub unreachable_lines: u64,
    /// The SDK's lines: the peer's new device identity was refused.
    pub identity_refused_lines: u64,
}

/// One to-device event as the `/sync` summary gives it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ToDeviceEvent<'a> {
    /// `type` (`m.room.encrypted` for an encrypted one).
    pub event_type: &'a str,
    /// `sender`.
    pub sender: Option<&'a str>,
    /// `content.algorithm`.
    pub algorithm: Option<&'a str>,
    /// `content.sender_key`: the sender's curve25519 key.
    pub sender_key: Option<&'a str>,
    /// The keys of `content.ciphertext`: the curve25519 keys it was encrypted for.
    pub recipient_keys: &'a [String],
    /// `content["org.matrix.msgid"]`.
    pub msgid: Option<&'a str>,
}

/// What one of the SDK's lines says about a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFact {
    /// An Olm event had no ciphertext for our key.
    MissingCiphertext,
    /// A call key from the peer was decrypted.
    CallKeyArrived,
    /// No Olm session to the peer: its one-time key's signature does not verify.
    Unreachable,
    /// The peer's device update was refused (signing key changed).
    IdentityRefused,
}

/// The tally, driven by explicit time.
#[derive(Clone, Debug, Default)]
pub struct PeerMonitor {
    peers: Vec<PeerKeys>,
    /// Olm events seen while this device's own curve25519 key was not known (not judged).
    pub unjudged: u64,
    /// Peers not followed (the bound was reached).
    pub dropped: u64,
}

fn push_latest(v: &mut Vec<String>, s: &str) {
    if v.iter().any(|x| x == s) {
        return;
    }
    if v.len() >= MAX_IDS {
        v.remove(0);
    }
    v.push(head(s, MAX_STR).to_owned());
}

impl PeerMonitor {
    /// Nothing seen yet.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The peer entry: matched by user and, when both sides know it, by
    /// sender key or device (a user's lines and events may name either).
    fn peer(&mut self, user_id: &str, device_id: Option<&str>, sender_key: Option<&str>) -> Option<&mut PeerKeys> {
        let same = |p: &PeerKeys| {
            p.user_id == user_id
                && match (device_id, sender_key) {
                    (Some(d), _) if p.device_id.is_some() => p.device_id.as_deref() == Some(d),
                    (_, Some(k)) if p.sender_key.is_some() => p.sender_key.as_deref() == Some(k),
                    _ => true,
                }
        };
        let i = match self.peers.iter().position(same) {
            Some(i) => i,
            None if self.peers.len() < MAX_PEERS => {
                self.peers.push(PeerKeys { user_id: head(user_id, MAX_STR).to_owned(), ..Default::default() });
                self.peers.len() - 1
            }
            None => {
                self.dropped += 1;
                return None;
            }
        };
        let p = &mut self.peers[i];
        if p.device_id.is_none() {
            p.device_id = device_id.map(|d| head(d, MAX_STR).to_owned());
        }
        if p.sender_key.is_none() {
            p.sender_key = sender_key.map(|k| head(k, MAX_STR).to_owned());
        }
        Some(p)
    }

    /// A to-device event from `/sync`. `ours`: this device's current
    /// curve25519 key, as its uploads showed it (`None`: not known, the
    /// event is not judged).
    pub fn to_device(&mut self, e: &ToDeviceEvent, ours: Option<&str>) {
        if e.event_type != "m.room.encrypted" || e.algorithm != Some(OLM_V1) {
            return;
        }
        let Some(sender) = e.sender else { return };
        let Some(ours) = ours else {
            self.unjudged += 1;
            return;
        };
        let for_us = e.recipient_keys.iter().any(|k| k == ours);
        let Some(p) = self.peer(sender, None, e.sender_key) else { return };
        if for_us {
            p.olm_for_us += 1;
            return;
        }
        p.olm_not_for_us += 1;
        for k in e.recipient_keys.iter().take(MAX_IDS) {
            push_latest(&mut p.encrypted_for, k);
        }
        if let Some(m) = e.msgid {
            push_latest(&mut p.msgids, m);
        }
    }

    /// A console line about a peer. Rust tracing names the peer's key as
    /// `curve25519:KEY`; the user may be missing from the line (then
    /// the peer is matched by its key alone).
    /// `msgid`: the event's `org.matrix.msgid` (the span's `message_id`).
    pub fn line(&mut self, fact: LineFact, user_id: Option<&str>, device_id: Option<&str>, sender_key: Option<&str>, msgid: Option<&str>) {
        let key = sender_key.map(|k| k.strip_prefix("curve25519:").unwrap_or(k));
        let user = match (user_id, key) {
            (Some(u), _) => u.to_owned(),
            (None, Some(k)) => match self.peers.iter().find(|p| p.sender_key.as_deref() == Some(k)) {
                Some(p) => p.user_id.clone(),
                None => String::new(),
            },
            (None, None) => return,
        };
        let Some(p) = self.peer(&user, device_id, key) else { return };
        match fact {
            LineFact::MissingCiphertext => {
                p.missing_ciphertext_lines += 1;
                if let Some(m) = msgid {
                    push_latest(&mut p.msgids, m);
                }
            }
            LineFact::CallKeyArrived => p.call_keys_arrived += 1,
            LineFact::Unreachable => p.unreachable_lines += 1,
            LineFact::IdentityRefused => p.identity_refused_lines += 1,
        }
    }

    /// The peers with their conclusions.
    pub fn peers(&self) -> Vec<PeerKeys> {
        let mut out = self.peers.clone();
        for p in &mut out {
            p.incoming = if p.olm_not_for_us + p.missing_ciphertext_lines > 0 {
                "undecryptable"
            } else if p.call_keys_arrived > 0 {
                "received"
            } else {
                "unknown"
            }
            .into();
            p.outgoing = if p.unreachable_lines > 0 { "unreachable" } else { "unknown" }.into();
        }
        out
    }

    /// Findings: keys that reach this device undecryptable (linked to KE-1 by
    /// `ke1`, what the page knows about its own identity), peers this device
    /// cannot reach, peers whose new identity was refused.
    pub fn findings(peers: &[PeerKeys], ke1: &Value, now: u64) -> Vec<Finding> {
        let mut out = Vec::new();
        let name = |p: &PeerKeys| match &p.device_id {
            Some(d) => format!("{} ({d})", p.user_id),
            None => p.user_id.clone(),
        };
        let bad: Vec<&PeerKeys> = peers.iter().filter(|p| p.incoming == "undecryptable").collect();
        if !bad.is_empty() {
            let events: u64 = bad.iter().map(|p| p.olm_not_for_us.max(p.missing_ciphertext_lines)).sum();
            let who = bad.iter().map(|p| name(p)).collect::<Vec<_>>().join(", ");
            out.push(Finding {
                id: "call_keys_undecryptable".into(),
                ke: Some(Class::Ke2),
                level: Level::Critical,
                title: format!("you cannot hear or see {who} in calls: their keys go to an identity this device lost"),
                detail: format!("{events} to-device message(s) from {who} were encrypted for a key this device lost with its crypto store (KE-1)."),
                ts: now,
                at: iso8601(now),
                evidence: obj!({
                    "peers": bad.iter().map(|p| obj!({"userId": p.user_id, "events": p.olm_not_for_us.max(p.missing_ciphertext_lines), "msgids": p.msgids})).collect::<Vec<_>>(),
                    "ke1": ke1,
                }),
            });
        }
        // About a peer, named as such: the fix is on that device.
        for p in peers {
            let (id, ke, lines, what) = if p.outgoing == "unreachable" {
                (
                    "peer_unreachable",
                    Class::Ke2,
                    p.unreachable_lines,
                    "cannot reach it: its one-time keys are signed by an identity it lost",
                )
            } else if p.identity_refused_lines > 0 {
                ("peer_identity_replaced", Class::Ke1, p.identity_refused_lines, "it uploaded a new identity, our keys go to the old one")
            } else {
                continue;
            };
            out.push(Finding {
                id: id.into(),
                ke: Some(ke),
                level: Level::Warning,
                title: format!("{} gets none of our call keys: {what} (KE-1 on that device)", name(p)),
                detail: "The fix is on that device: sign out and back in there.".into(),
                ts: now,
                at: iso8601(now),
                evidence: obj!({"userId": p.user_id, "deviceId": p.device_id, "lines": lines, "about": "peer"}),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn olm<'a>(sender: &'a str, key: &'a str, to: &'a [String], msgid: &'a str) -> ToDeviceEvent<'a> {
        ToDeviceEvent {
            event_type: "m.room.encrypted",
            sender: Some(sender),
            algorithm: Some(OLM_V1),
            sender_key: Some(key),
            recipient_keys: to,
            msgid: Some(msgid),
        }
    }

    #[test]
    fn events_for_a_lost_key_are_undecryptable_per_sender_and_message() {
        let mut m = PeerMonitor::default();
        let old = vec!["OLDKEY".to_owned()];
        let ours = vec!["NEWKEY".to_owned()];
        m.to_device(&olm("@alice:hs", "ALICEK", &old, "m1"), Some("NEWKEY"));
        m.to_device(&olm("@alice:hs", "ALICEK", &old, "m2"), Some("NEWKEY"));
        m.to_device(&olm("@carol:hs", "CAROLK", &ours, "m3"), Some("NEWKEY"));
        // Not Olm, or not encrypted: not judged at all.
        m.to_device(&ToDeviceEvent { event_type: "m.dummy", sender: Some("@x:hs"), ..Default::default() }, Some("NEWKEY"));
        m.to_device(&ToDeviceEvent { algorithm: Some("m.megolm.v1.aes-sha2"), ..olm("@x:hs", "K", &old, "m4") }, Some("NEWKEY"));
        let p = m.peers();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].user_id.as_str(), p[0].olm_not_for_us, p[0].incoming.as_str()), ("@alice:hs", 2, "undecryptable"));
        assert_eq!((p[0].msgids.clone(), p[0].encrypted_for.clone()), (vec!["m1".to_owned(), "m2".to_owned()], old.clone()));
        assert_eq!((p[1].olm_for_us, p[1].incoming.as_str()), (1, "unknown"));
        let f = PeerMonitor::findings(&p, &json!({"identityReplaced": true}), 20);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].id.as_str(), f[0].ke, f[0].level), ("call_keys_undecryptable", Some(Class::Ke2), Level::Critical));
        assert_eq!(f[0].evidence["peers"][0]["msgids"], json!(["m1", "m2"]));
        assert_eq!(f[0].evidence["peers"][0]["events"], 2);
        assert_eq!(f[0].evidence["ke1"]["identityReplaced"], true);
    }

    #[test]
    fn without_our_own_key_nothing_is_judged() {
        let mut m = PeerMonitor::default();
        m.to_device(&olm("@alice:hs", "ALICEK", &["OLD".to_owned()], "m1"), None);
        assert!(m.is_empty());
        assert_eq!(m.unjudged, 1);
    }

    #[test]
    fn console_lines_name_peers_by_key_or_device() {
        let mut m = PeerMonitor::default();
        m.to_device(&olm("@alice:hs", "ALICEK", &["OLD".to_owned()], "m1"), Some("NEW"));
        // The tracing line names the sender's key only, with its algorithm prefix.
        m.line(LineFact::MissingCiphertext, None, None, Some("curve25519:ALICEK"), Some("m1"));
        m.line(LineFact::CallKeyArrived, Some("@carol:hs"), None, None, None);
        m.line(LineFact::Unreachable, Some("@bob:hs"), Some("BOBDEV"), None, None);
        m.line(LineFact::IdentityRefused, Some("@erin:hs"), Some("ERINDEV"), None, None);
        let p = m.peers();
        let get = |u: &str| p.iter().find(|x| x.user_id == u).unwrap();
        assert_eq!((get("@alice:hs").missing_ciphertext_lines, get("@alice:hs").olm_not_for_us), (1, 1));
        assert_eq!(get("@alice:hs").msgids, ["m1"], "the same message seen on both paths is listed once");
        assert_eq!(get("@carol:hs").incoming, "received");
        assert_eq!((get("@bob:hs").outgoing.as_str(), get("@bob:hs").device_id.as_deref()), ("unreachable", Some("BOBDEV")));
        let f = PeerMonitor::findings(&p, &Value::Null, 6);
        let ids: Vec<&str> = f.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["call_keys_undecryptable", "peer_unreachable", "peer_identity_replaced"]);
        assert_eq!(f[1].evidence["deviceId"], "BOBDEV");
        assert!(f[1].title.contains("@bob:hs (BOBDEV)"));
    }

    #[test]
    fn healthy_traffic_raises_nothing_and_memory_is_bounded() {
        let mut m = PeerMonitor::default();
        let ours = vec!["OURS".to_owned()];
        for i in 0..(MAX_PEERS + 10) {
            let u = format!("@u{i}:hs");
            m.to_device(&olm(&u, "K", &ours, "m"), Some("OURS"));
        }
        for i in 0..(MAX_IDS * 3) {
            let old = vec![format!("OLD{i}")];
            m.to_device(&olm("@u0:hs", "K", &old, &format!("m{i}")), Some("OURS"));
        }
        let p = m.peers();
        assert_eq!((p.len(), m.dropped), (MAX_PEERS, 10));
        assert_eq!((p[0].msgids.len(), p[0].encrypted_for.len(), p[0].msgids.last().map(String::as_str)), (MAX_IDS, MAX_IDS, Some("m23")));
        assert!(PeerMonitor::findings(&p[1..], &Value::Null, 3).is_empty(), "healthy peers raise nothing");
    }
}
