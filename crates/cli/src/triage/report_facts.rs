//! What the client report says, pulled out once: ids, the KE-1 proof, KE-2..4 sightings, and the
//! optional `otkHealth` section (read leniently from the raw JSON: it may be absent).

use crate::server::har::Har;
use crypto_health_core::evidence::decryption::DecryptionReport;
use crypto_health_core::evidence::redact::{redact, RedactionCounts};
use crypto_health_core::Report;
use serde_json::{Map, Value};

/// A KE-1 conflict seen by the client, with where it was seen.
#[derive(Clone, Debug, Default)]
pub struct Ke1Proof {
    pub source: String,
    pub algorithm: Option<String>,
    pub key_id: Option<String>,
    pub counter: Option<u64>,
    pub old_key: Option<Value>,
    pub new_key: Option<Value>,
    pub diverged: Option<bool>,
    pub quote: String,
}

/// A sighting of a KE-2/3/4 line: entry index, time, fields, message.
#[derive(Clone, Debug)]
pub struct Sighting {
    pub source: String,
    pub ts: u64,
    pub last_ts: u64,
    pub fields: Map<String, Value>,
    pub message: String,
}

pub struct ReportFacts {
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub ke1: Vec<Ke1Proof>,
    pub upload_400s: u64,
    pub ke2_missing: Vec<Sighting>,
    pub ke2_delivered: Vec<Sighting>,
    pub ke3: Vec<Sighting>,
    pub ke4: Vec<Sighting>,
    /// Per class: (count, failures) from `counts`, which survive ring-buffer eviction.
    pub counts: Vec<(String, u64, u64)>,
    pub capture_installed: bool,
    pub lines_seen: u64,
    pub findings: Vec<(String, String)>,
    pub persisted: Option<bool>,
    pub generated_at: String,
    /// The `otkHealth` section (HTTP-level KE-1 detector), when the report has one.
    pub otk_health: Option<Value>,
    /// The `decryption` section (why messages fail to decrypt), when the report has one.
    pub utd: Option<DecryptionReport>,
    /// From the `call` section (widget API traffic): participants missing keys,
    /// participants whose keys were delivered to the call, and whom our keys were sent to.
    pub call_missing: Vec<String>,
    pub call_delivered: Vec<String>,
    pub call_sent_to: Vec<String>,
}

impl ReportFacts {
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

    pub fn otk_outcome(&self) -> Option<&str> {
        self.otk_health.as_ref()?.get("outcome")?.as_str()
    }
}

fn s(fields: &Map<String, Value>, k: &str) -> Option<String> {
    fields.get(k).and_then(Value::as_str).map(String::from)
}

impl ReportFacts {
    /// No report: a HAR and the server are all there is (a client without crypto-health).
    pub fn empty() -> Self {
        ReportFacts {
            user_id: None,
            device_id: None,
            ke1: Vec::new(),
            upload_400s: 0,
            ke2_missing: Vec::new(),
            ke2_delivered: Vec::new(),
            ke3: Vec::new(),
            ke4: Vec::new(),
            counts: Vec::new(),
            capture_installed: false,
            lines_seen: 0,
            findings: Vec::new(),
            persisted: None,
            generated_at: String::new(),
            otk_health: None,
            utd: None,
            call_missing: Vec::new(),
            call_delivered: Vec::new(),
            call_sent_to: Vec::new(),
        }
    }

    /// The HAR's failed keys/upload calls as KE-1 proofs: the 400 quotes the stored key, the
    /// request body holds the client's own key (exact JSON).
    pub fn add_har(&mut self, har: &Har) {
        self.user_id = self.user_id.take().or_else(|| har.user.clone());
        self.device_id = self.device_id.take().or_else(|| har.device.clone());
        for u in &har.uploads {
            let Some(c) = &u.conflict else { continue };
            let old_key = c.old_key.clone();
            let new_key = u.request_key.clone().or_else(|| c.new_key.clone());
            let diverged = match (&old_key, &new_key) {
                (Some(o), Some(n)) => Some(crypto_health_core::otk::conflict::keys_differ(o, n)),
                _ => c.diverged,
            };
            let mut counts = RedactionCounts::default();
            let text = u.error_text.as_deref().unwrap_or_default();
            self.ke1.push(Ke1Proof {
                source: format!("{} {} ({})", har.file_name(), u.call.source(), u.call.describe()),
                algorithm: Some(c.algorithm.clone()),
                key_id: Some(c.key_id.clone()),
                counter: c.counter,
                old_key,
                new_key,
                diverged,
                quote: format!(
                    "request one_time_keys: {} key(s), {}:{} = {}; answer 400: {}",
                    u.otk_ids.len(),
                    c.algorithm,
                    c.key_id,
                    u.request_key.as_ref().map(|k| k.to_string()).unwrap_or_else(|| "(not in the request body)".into()),
                    redact(text, &mut counts)
                ),
            });
        }
        self.upload_400s += har.uploads.iter().filter(|u| u.call.status == 400 && u.conflict.is_none()).count() as u64;
    }
}

pub fn extract(report: &Report, raw: &Value) -> ReportFacts {
    let mut f = ReportFacts {
        user_id: report.session.user_id.clone(),
        device_id: report.session.device_id.clone(),
        ke1: Vec::new(),
        upload_400s: 0,
        ke2_missing: Vec::new(),
        ke2_delivered: Vec::new(),
        ke3: Vec::new(),
        ke4: Vec::new(),
        counts: report.counts.iter().map(|(k, c)| (k.to_string(), c.count, c.failures)).collect(),
        capture_installed: report.capture.installed,
        lines_seen: report.capture.lines_seen,
        findings: report.findings.iter().map(|x| (x.id.clone(), x.title.clone())).collect(),
        persisted: report.storage.persisted,
        generated_at: report.generated_at.clone(),
        otk_health: raw.get("otkHealth").filter(|v| v.is_object()).cloned(),
        utd: report.decryption.clone(),
        call_missing: Vec::new(),
        call_delivered: Vec::new(),
        call_sent_to: Vec::new(),
    };
    // KE-3 from the SDK's own decryption results: the event and its room, even with the SDK logger off.
    if let Some(m) = f.utd.as_ref().and_then(|u| u.causes.get("malformed_event")) {
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
    if let Some(call) = &report.call {
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
        let fields = e.fields.clone();
        let source = format!("report entries[{i}] ({})", e.signature);
        let sighting =
            || Sighting { source: source.clone(), ts: e.ts, last_ts: e.last_ts, fields: fields.clone(), message: e.message.clone() };
        match e.signature.as_str() {
            "ke1.otk_conflict" => f.ke1.push(Ke1Proof {
                source: source.clone(),
                algorithm: s(&fields, "algorithm"),
                key_id: s(&fields, "key_id"),
                counter: fields.get("counter").and_then(Value::as_u64),
                old_key: fields.get("old_key").filter(|v| !v.is_null()).cloned(),
                new_key: fields.get("new_key").filter(|v| !v.is_null()).cloned(),
                diverged: fields.get("diverged").and_then(Value::as_bool),
                quote: e.message.clone(),
            }),
            "ke1.keys_upload_400" => f.upload_400s += 1 + e.repeats,
            "ke2.missing_key" | "ke2.key_set_not_found" => f.ke2_missing.push(sighting()),
            "ke2.call_key_delivered" => f.ke2_delivered.push(sighting()),
            "ke3.missing_algorithm" => f.ke3.push(sighting()),
            sig if sig.starts_with("ke4.") => f.ke4.push(sighting()),
            _ => {}
        }
    }
    // The HTTP tap's proof (otkHealth.proof) counts even when the console said nothing.
    if let Some(p) = f.otk_health.as_ref().and_then(|o| o.get("proof")).filter(|p| p.is_object()) {
        let st = |k: &str| p.get(k).and_then(Value::as_str).map(String::from);
        f.ke1.push(Ke1Proof {
            source: "report otkHealth.proof".into(),
            algorithm: st("algorithm"),
            key_id: st("keyId"),
            counter: p.get("counter").and_then(Value::as_u64),
            old_key: p.get("oldKey").filter(|v| !v.is_null()).cloned(),
            new_key: p.get("newKey").filter(|v| !v.is_null()).cloned(),
            diverged: p.get("diverged").and_then(Value::as_bool),
            quote: serde_json::to_string(p).unwrap_or_default(),
        });
    }
    f
}
