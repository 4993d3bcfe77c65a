//! What the client report (and, for a client without crypto-health, a HAR) says, pulled out
//! once: ids, the KE-1 proofs, KE-2..4 sightings, and the optional `otkHealth` section (read
//! leniently from the raw JSON: it may be absent).

use super::har::Har;
use crate::evidence::decryption::DecryptionReport;
use crate::evidence::redact::{redact, RedactionCounts};
use crate::otk::conflict::{keys_differ, OtkConflict};
use crate::otk::key_id::{decode_counter, IdScheme};
use crate::triage::proof::Proof;
use crate::Report;
use serde_json::{Map, Value};

/// A sighting of a KE-2/3/4 line: entry index, time, fields, message.
#[derive(Clone, Debug)]
pub struct Sighting {
    /// `report entries[3] (ke4.…)`.
    pub source: String,
    /// Unix ms, first seen.
    pub ts: u64,
    /// Unix ms, last seen (folded repeats).
    pub last_ts: u64,
    /// The signature's fields.
    pub fields: Map<String, Value>,
    /// The (redacted) message.
    pub message: String,
}

/// A peer whose call keys reach this device encrypted for a key it lost (the
/// `call_keys_undecryptable` finding, with the report's `call.peers` entry for the user).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UndecryptablePeer {
    /// The peer's user.
    pub user_id: String,
    /// Its to-device events that were not for this device's current key.
    pub events: u64,
    /// Their `org.matrix.msgid` (the latest few).
    pub msgids: Vec<String>,
    /// The curve25519 keys they were encrypted for (from `call.peers`).
    pub encrypted_for: Vec<String>,
}

/// The report's KE-2 evidence on the device that cannot hear: `call_keys_undecryptable` and
/// its KE-1 link (`evidence.ke1`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Undecryptable {
    /// Where it was read.
    pub source: String,
    /// The peers, as the finding lists them.
    pub peers: Vec<UndecryptablePeer>,
    /// The identity key this device lost (the one the peers encrypted for).
    pub previous_curve25519: Option<String>,
    /// The identity key it has now.
    pub current_curve25519: Option<String>,
    /// Whether the page saw its identity replaced under the same device id.
    pub identity_replaced: Option<bool>,
    /// Whether a peer's event was encrypted for the previous identity.
    pub encrypted_for_previous: Option<bool>,
    /// The one-time key id of the KE-1 conflict, when one was seen.
    pub otk_conflict_key_id: Option<String>,
}

impl Undecryptable {
    /// Every key the peers encrypted for, once each (the previous identity first).
    pub fn lost_keys(&self) -> Vec<String> {
        let mut out: Vec<String> = self.previous_curve25519.iter().cloned().collect();
        for k in self.peers.iter().flat_map(|p| &p.encrypted_for) {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
        out
    }
}

/// A device this device could not reach (the `peer_unreachable` finding): evidence about that
/// other device, whose KE-1 keeps our call keys from it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnreachablePeer {
    /// Where it was read.
    pub source: String,
    /// The other device's user.
    pub user_id: String,
    /// The other device.
    pub device_id: Option<String>,
    /// The SDK's lines that said so.
    pub lines: u64,
}

/// Devices named in `peer_unreachable` findings that the CLI looks up in the database.
pub const MAX_UNREACHABLE: usize = 4;

/// The report's facts triage reads.
#[derive(Default)]
pub struct ReportFacts {
    /// The session's user.
    pub user_id: Option<String>,
    /// The session's device.
    pub device_id: Option<String>,
    /// One-time-key conflicts the client saw (console, HTTP tap, HAR).
    pub ke1: Vec<Proof>,
    /// keys/upload 400s without the conflict text.
    pub upload_400s: u64,
    /// KE-2 missing-key lines.
    pub ke2_missing: Vec<Sighting>,
    /// KE-2 call-key-delivered lines.
    pub ke2_delivered: Vec<Sighting>,
    /// KE-3 malformed events.
    pub ke3: Vec<Sighting>,
    /// KE-4 timeouts and slow delayed-event findings.
    pub ke4: Vec<Sighting>,
    /// Per class: (count, failures) from `counts`, which survive ring-buffer eviction.
    pub counts: Vec<(String, u64, u64)>,
    /// Whether the console tap was installed.
    pub capture_installed: bool,
    /// Console lines the tap saw.
    pub lines_seen: u64,
    /// Findings: (id, title).
    pub findings: Vec<(String, String)>,
    /// `storage.persisted`.
    pub persisted: Option<bool>,
    /// The report's `generatedAt`.
    pub generated_at: String,
    /// The `otkHealth` section (HTTP-level KE-1 detector), when the report has one.
    pub otk_health: Option<Value>,
    /// The `decryption` section (why messages fail to decrypt), when the report has one.
    pub utd: Option<DecryptionReport>,
    /// From the `call` section (widget API traffic): participants missing keys.
    pub call_missing: Vec<String>,
    /// Participants whose keys were delivered to the call.
    pub call_delivered: Vec<String>,
    /// Participants our keys were sent to.
    pub call_sent_to: Vec<String>,
    /// Call keys that reached this device encrypted for a key it lost (KE-2 from `/sync`).
    pub undecryptable: Option<Undecryptable>,
    /// Devices this device could not reach (at most [`MAX_UNREACHABLE`]).
    pub unreachable: Vec<UnreachablePeer>,
}

impl ReportFacts {
    /// No report: a HAR and the server are all there is (a client without crypto-health).
    pub fn empty() -> Self {
        ReportFacts::default()
    }

    /// (count, failures) of a class.
    pub fn count(&self, ke: &str) -> Option<(u64, u64)> {
        self.counts.iter().find(|(k, _, _)| k == ke).map(|(_, c, f)| (*c, *f))
    }

    /// Identity keys the report knows (`otkHealth.identity.current/previous`), labelled.
    pub fn identities(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(id) = self.otk_health.as_ref().and_then(|o| o.get("identity")) {
            for k in ["current", "previous", "known", "replacedBy"] {
                if let Some(s) = id.get(k).and_then(Value::as_str) {
                    out.push((format!("report otkHealth.identity.{k}"), s.to_string()));
                }
            }
        }
        out
    }

    /// `otkHealth.outcome`.
    pub fn otk_outcome(&self) -> Option<&str> {
        self.otk_health.as_ref()?.get("outcome")?.as_str()
    }

    /// `otkHealth`'s conflict count (either report layout).
    pub(crate) fn tap_conflicts(&self) -> Option<u64> {
        let o = self.otk_health.as_ref()?;
        o.get("conflicts").or_else(|| o.get("uploads").and_then(|u| u.get("conflicts"))).and_then(Value::as_u64)
    }

    /// `otkHealth`'s accepted uploads (either report layout).
    pub(crate) fn tap_accepted(&self) -> Option<u64> {
        self.otk_health.as_ref()?.get("uploads").and_then(|u| u.get("ok").or_else(|| u.get("accepted"))).and_then(Value::as_u64)
    }

    /// The HAR's failed keys/upload calls as KE-1 proofs: the 400 quotes the stored key, the
    /// request body holds the client's own key (exact JSON).
    pub fn add_har(&mut self, har: &Har) {
        self.user_id = self.user_id.take().or_else(|| har.user.clone());
        self.device_id = self.device_id.take().or_else(|| har.device.clone());
        for u in &har.uploads {
            let Some(c) = &u.conflict else { continue };
            let new_key = u.request_key.clone().or_else(|| c.new_key.clone());
            let diverged = match (&c.old_key, &new_key) {
                (Some(o), Some(n)) => Some(keys_differ(o, n)),
                _ => c.diverged,
            };
            let mut counts = RedactionCounts::default();
            let text = u.error_text.as_deref().unwrap_or_default();
            self.ke1.push(Proof {
                source: format!("{} {} ({})", har.file_name(), u.call.source(), u.call.describe()),
                quote: format!(
                    "request one_time_keys: {} key(s), {}:{} = {}; answer 400: {}",
                    u.otk_ids.len(),
                    c.algorithm,
                    c.key_id,
                    u.request_key.as_ref().map(|k| k.to_string()).unwrap_or_else(|| "(not in the request body)".into()),
                    redact(text, &mut counts)
                ),
                conflict: OtkConflict { new_key, diverged, ..c.clone() },
            });
        }
        self.upload_400s += har.uploads.iter().filter(|u| u.call.status == 400 && u.conflict.is_none()).count() as u64;
    }
}

fn text(fields: &Map<String, Value>, k: &str) -> Option<String> {
    fields.get(k).and_then(Value::as_str).map(String::from)
}

/// A conflict the client reported in its own words: algorithm (default `signed_curve25519`),
/// key id (none: no proof), counter, both keys, divergence.
fn reported_conflict(fields: &Map<String, Value>, names: [&str; 6]) -> Option<OtkConflict> {
    let get = |k: &str| fields.get(k);
    let [algorithm, key_id, counter, old_key, new_key, diverged] = names;
    let key_id = get(key_id)?.as_str()?.to_string();
    let key = |k: &str| get(k).filter(|v| !v.is_null()).cloned();
    Some(OtkConflict {
        algorithm: get(algorithm).and_then(Value::as_str).unwrap_or("signed_curve25519").to_string(),
        scheme: decode_counter(&key_id).map_or(IdScheme::Unknown, |(s, _)| s),
        key_id,
        counter: get(counter).and_then(Value::as_u64),
        old_key: key(old_key),
        new_key: key(new_key),
        diverged: get(diverged).and_then(Value::as_bool),
    })
}

/// The facts of one report (`raw`: the same report as JSON, for the lenient `otkHealth`).
pub fn extract(report: &Report, raw: &Value) -> ReportFacts {
    let mut f = ReportFacts {
        user_id: report.session.user_id.clone(),
        device_id: report.session.device_id.clone(),
        counts: report.counts.iter().map(|(k, c)| (k.to_string(), c.count, c.failures)).collect(),
        capture_installed: report.capture.installed,
        lines_seen: report.capture.lines_seen,
        findings: report.findings.iter().map(|x| (x.id.clone(), x.title.clone())).collect(),
        persisted: report.storage.persisted,
        generated_at: report.generated_at.clone(),
        otk_health: raw.get("otkHealth").filter(|v| v.is_object()).cloned(),
        utd: report.decryption.clone(),
        ..ReportFacts::default()
    };
    malformed_events(&mut f);
    call_participants(report, &mut f);
    peer_keys(report, &mut f);
    // The measured delayed-event latency (HTTP tap or widget API) is a KE-4 sighting
    // of its own: a fork that silences the SDK logger still has it.
    for x in report.findings.iter().filter(|x| x.id == "delayed_events_slow" || x.id == "call_delayed_events_slow") {
        f.ke4.push(Sighting {
            source: format!("report findings ({})", x.id),
            ts: x.ts,
            last_ts: x.ts,
            fields: x.evidence.as_object().cloned().unwrap_or_default(),
            message: x.detail.clone(),
        });
    }
    for (i, e) in report.entries.iter().enumerate() {
        let source = format!("report entries[{i}] ({})", e.signature);
        let sighting =
            || Sighting { source: source.clone(), ts: e.ts, last_ts: e.last_ts, fields: e.fields.clone(), message: e.message.clone() };
        match e.signature.as_str() {
            "ke1.otk_conflict" => {
                let names = ["algorithm", "key_id", "counter", "old_key", "new_key", "diverged"];
                if let Some(conflict) = reported_conflict(&e.fields, names) {
                    f.ke1.push(Proof { source: source.clone(), quote: e.message.clone(), conflict });
                }
            }
            "ke1.keys_upload_400" => f.upload_400s += 1 + e.repeats,
            "ke2.missing_key" | "ke2.key_set_not_found" => f.ke2_missing.push(sighting()),
            "ke2.call_key_delivered" => f.ke2_delivered.push(sighting()),
            "ke3.missing_algorithm" => f.ke3.push(sighting()),
            sig if sig.starts_with("ke4.") => f.ke4.push(sighting()),
            _ => {}
        }
    }
    // The HTTP tap's proof (otkHealth.proof) counts even when the console said nothing.
    let tap_proof = f.otk_health.as_ref().and_then(|o| o.get("proof")?.as_object()).and_then(|p| {
        let names = ["algorithm", "keyId", "counter", "oldKey", "newKey", "diverged"];
        let quote = serde_json::to_string(p).unwrap_or_default();
        Some(Proof { source: "report otkHealth.proof".into(), quote, conflict: reported_conflict(p, names)? })
    });
    f.ke1.extend(tap_proof);
    f
}

/// KE-3 from the SDK's own decryption results: the event and its room, even with the SDK logger off.
fn malformed_events(f: &mut ReportFacts) {
    let Some(m) = f.utd.as_ref().and_then(|u| u.causes.get("malformed_event")) else { return };
    for (i, e) in m.events.iter().enumerate() {
        let mut fields = Map::new();
        fields.insert("event_id".into(), e.event_id.clone().into());
        fields.insert("room_id".into(), e.room_id.clone().into());
        fields.insert("code".into(), e.code.clone().into());
        f.ke3.push(Sighting {
            source: format!("report decryption.causes.malformed_event.events[{i}]"),
            ts: e.first_failed_at,
            last_ts: e.last_failed_at,
            fields,
            message: format!(
                "undecryptable, malformed (no content.algorithm): {} in {} ({}, {} attempt(s))",
                e.event_id,
                e.room_id.as_deref().unwrap_or("an unknown room"),
                e.code.as_deref().unwrap_or("no code"),
                e.attempts
            ),
        });
    }
}

/// The `call` section's participants: missing keys, keys delivered, keys sent to.
fn call_participants(report: &Report, f: &mut ReportFacts) {
    let Some(call) = &report.call else { return };
    for p in &call.participants {
        if p.missing_keys {
            f.call_missing.push(p.id.clone());
        }
        if p.keys_delivered > 0 {
            f.call_delivered.push(p.id.clone());
        }
        if p.keys_sent_to > 0 {
            f.call_sent_to.push(p.id.clone());
        }
    }
}

/// The peer-key findings: `call_keys_undecryptable` (this device cannot open its peers' keys)
/// and `peer_unreachable` (this device cannot reach another one).
fn peer_keys(report: &Report, f: &mut ReportFacts) {
    let call_peers = report.call.as_ref().map(|c| c.peers.as_slice()).unwrap_or_default();
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(String::from);
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
    };
    for x in &report.findings {
        let ev = &x.evidence;
        match x.id.as_str() {
            "call_keys_undecryptable" => {
                let peers = ev.get("peers").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                let peers: Vec<UndecryptablePeer> = peers
                    .iter()
                    .filter_map(|p| {
                        let user_id = s(p, "userId")?;
                        let mut encrypted_for: Vec<String> = Vec::new();
                        for k in call_peers.iter().filter(|c| c.user_id == user_id).flat_map(|c| &c.encrypted_for) {
                            if !encrypted_for.contains(k) {
                                encrypted_for.push(k.clone());
                            }
                        }
                        Some(UndecryptablePeer {
                            events: p.get("events").and_then(Value::as_u64).unwrap_or(0),
                            msgids: strings(p.get("msgids")),
                            encrypted_for,
                            user_id,
                        })
                    })
                    .collect();
                let ke1 = ev.get("ke1").cloned().unwrap_or(Value::Null);
                f.undecryptable = Some(Undecryptable {
                    source: format!("report findings ({})", x.id),
                    peers,
                    previous_curve25519: s(&ke1, "previousCurve25519"),
                    current_curve25519: s(&ke1, "currentCurve25519"),
                    identity_replaced: ke1.get("identityReplaced").and_then(Value::as_bool),
                    encrypted_for_previous: ke1.get("encryptedForPreviousIdentity").and_then(Value::as_bool),
                    otk_conflict_key_id: s(&ke1, "otkConflictKeyId"),
                });
            }
            "peer_unreachable" if f.unreachable.len() < MAX_UNREACHABLE => {
                let Some(user_id) = s(ev, "userId") else { continue };
                f.unreachable.push(UnreachablePeer {
                    source: format!("report findings ({})", x.id),
                    user_id,
                    device_id: s(ev, "deviceId"),
                    lines: ev.get("lines").and_then(Value::as_u64).unwrap_or(0),
                });
            }
            _ => {}
        }
    }
}

/// The event id of the first KE-3 sighting that names one.
pub fn ke3_event(f: &ReportFacts) -> Option<String> {
    f.ke3.iter().find_map(|x| text(&x.fields, "event_id"))
}
