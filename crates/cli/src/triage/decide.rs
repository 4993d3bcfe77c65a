//! The runbook's decision tree (§2 Q1–Q4, §6.4) and remediations (§3), from gathered facts.
//! Pure: every input is already read, so each branch is testable without files.

use super::forensics::{self, Candidate, Forensics, Verdict};
use super::model::{Answer, Conclusion, Evidence, Question, Remediation};
use super::report_facts::{Ke1Proof, ReportFacts};
use crate::server::db::{DeviceRow, EventRow, FallbackRow, OtkRow};
use crate::server::har::Har;
use crate::server::log::{Access, SynapseLog};
use serde_json::{json, Map, Value};

/// What the database said for the subject (each `None`: not asked or table missing).
#[derive(Default)]
pub struct DbFacts {
    pub source: String,
    pub otks: Option<Vec<OtkRow>>,
    pub fallback: Option<Vec<FallbackRow>>,
    pub device_keys: Option<Option<Value>>,
    pub devices: Option<Vec<DeviceRow>>,
    pub inbox: Option<Vec<(String, u64)>>,
    pub event: Option<Option<EventRow>>,
    pub missing: Vec<String>,
}

pub struct Subject {
    pub user: Option<String>,
    pub device: Option<String>,
    pub event: Option<String>,
}

pub struct Triage {
    pub questions: Vec<Question>,
    pub forensics: Option<Forensics>,
    pub conclusions: Vec<Conclusion>,
    pub remediations: Vec<Remediation>,
    pub prevention: Vec<String>,
    pub notes: Vec<String>,
}

/// Ms the Synapse log and the client clock may disagree by, and the window around a KE-4 timeout.
const KE4_WINDOW_BEFORE_MS: u64 = 60_000;
const KE4_WINDOW_AFTER_MS: u64 = 10_000;
/// The MatrixRTC client's local timeout for a delayed-event restart (matrix-js-sdk MembershipManager: 2000 ms).
const KE4_LOCAL_TIMEOUT_S: f64 = 2.0;
const QUOTE_MAX: usize = 400;
/// The log lines of a call key sent to devices (the runbook's to-device grep).
pub const CALL_KEYS_SEND: &str = "sendToDevice/io.element.call.encryption_keys";

/// The log windows Q4 reads: around each KE-4 timeout of the report and each failed or slow
/// delayed-event call of the HAR.
pub fn q4_windows(r: &ReportFacts, har: Option<&Har>) -> Vec<(u64, u64)> {
    let mut w: Vec<(u64, u64)> =
        r.ke4.iter().map(|x| (x.ts.saturating_sub(KE4_WINDOW_BEFORE_MS), x.last_ts.max(x.ts) + KE4_WINDOW_AFTER_MS)).collect();
    if let Some(h) = har {
        for c in h.delayed.iter().filter(|c| har_call_failed(c)) {
            if let Some(t) = c.ts {
                w.push((t.saturating_sub(KE4_WINDOW_BEFORE_MS), t + c.time_ms as u64 + KE4_WINDOW_AFTER_MS));
            }
        }
    }
    w
}

/// A delayed-event call the client would count as a timeout: no answer, a server error, or
/// longer than the client's local timeout.
fn har_call_failed(c: &crate::server::har::Call) -> bool {
    c.status == 0 || c.status >= 500 || c.time_ms >= KE4_LOCAL_TIMEOUT_S * 1000.0
}

fn quote(s: &str) -> String {
    if s.len() <= QUOTE_MAX {
        return s.to_string();
    }
    let cut = crypto_health_core::support::text::floor_char_boundary(s, QUOTE_MAX);
    format!("{}… [{} more bytes]", &s[..cut], s.len() - cut)
}

use crypto_health_core::otk::conflict::keys_differ;

fn ed25519_of(device_keys: &Value, device: &str) -> Option<String> {
    device_keys.get("keys")?.get(format!("ed25519:{device}"))?.as_str().map(String::from)
}

/// The conflict to reason about: the report's (entries or otkHealth), else the log's for this user.
struct Proof {
    source: String,
    algorithm: String,
    key_id: String,
    counter: Option<u64>,
    old_key: Option<Value>,
    new_key: Option<Value>,
    diverged: Option<bool>,
    quote: String,
}

fn pick_proof(r: &ReportFacts, log: Option<&SynapseLog>, user: Option<&str>) -> Option<Proof> {
    let from_report = |p: &Ke1Proof| {
        Some(Proof {
            source: p.source.clone(),
            algorithm: p.algorithm.clone().unwrap_or_else(|| "signed_curve25519".into()),
            key_id: p.key_id.clone()?,
            counter: p.counter,
            old_key: p.old_key.clone(),
            new_key: p.new_key.clone(),
            diverged: p.diverged,
            quote: p.quote.clone(),
        })
    };
    // Prefer a complete proof (both keys read) over a cut one.
    let mut best: Option<Proof> = None;
    for p in r.ke1.iter().filter_map(from_report) {
        if best.as_ref().is_none_or(|b| b.diverged.is_none() && p.diverged.is_some()) {
            best = Some(p);
        }
    }
    if best.as_ref().is_some_and(|b| b.diverged.is_some()) {
        return best;
    }
    if let Some(log) = log {
        if let Some(c) = log.conflicts_for(user).max_by_key(|c| c.loc) {
            return Some(Proof {
                source: log.source(c.loc),
                algorithm: c.conflict.algorithm.clone(),
                key_id: c.conflict.key_id.clone(),
                counter: c.conflict.counter,
                old_key: c.conflict.old_key.clone(),
                new_key: c.conflict.new_key.clone(),
                diverged: c.conflict.diverged,
                quote: c.quote.clone(),
            });
        }
    }
    best
}

pub fn decide(r: &ReportFacts, log: Option<&SynapseLog>, db: Option<&DbFacts>, har: Option<&Har>, s: &Subject) -> Triage {
    let user = s.user.as_deref();
    let mut notes = Vec::new();
    if let Some(db) = db {
        for t in &db.missing {
            notes.push(format!(
                "{}: table `{t}` is not in this database (a different Synapse version?); questions that need it stay unknown",
                db.source
            ));
        }
    }
    let proof = pick_proof(r, log, user);
    let (q1, exhaustion) = q1(r, log, db, har, s, proof.as_ref());
    let forensics = proof.as_ref().and_then(|p| ke1_forensics(r, db, s, p, &mut notes));
    let q2 = q2(r, log, db, har, s, q1.answer);
    let q3 = q3(r, log, db, s);
    let q4 = q4(r, log, har);
    let q64 = q6_4(r, db, q1.answer);
    let conclusions = conclude(r, &q1, exhaustion, forensics.as_ref(), &q2, &q3, &q4, &q64, proof.as_ref());
    let remediations = remediations(q1.answer, forensics.as_ref());
    let mut prevention = Vec::new();
    if r.persisted == Some(false) {
        prevention.push("storage is not persisted on this browser (storage.persisted = false): request navigator.storage.persist() at app entry (runbook §6.3.1) so the crypto store cannot be evicted".into());
    }
    if matches!(forensics.as_ref().map(|f| &f.verdict), Some(Verdict::ConcurrentWriter)) {
        prevention.push("two writers on one crypto store: enable the tab guard (one primary tab per session, runbook §6.3.2)".into());
    }
    if q1.answer == Answer::Yes {
        prevention.push(
            "break the upload storm and prompt recovery on the first conflicts (runbook §6.3.3: installHttpTap + onRecoveryNeeded)".into(),
        );
    }
    Triage { questions: vec![q1, q2, q3, q4, q64], forensics, conclusions, remediations, prevention, notes }
}

// ------------------------------------------------------------------------------------ Q1
fn q1(
    r: &ReportFacts,
    log: Option<&SynapseLog>,
    db: Option<&DbFacts>,
    har: Option<&Har>,
    s: &Subject,
    proof: Option<&Proof>,
) -> (Question, Answer) {
    let mut q = Question::new(
        "Q1",
        "Does the KE-1 offending key_id from the 400 exist in e2e_one_time_keys_json with a DIFFERENT value than the client request body?",
    );
    let otks = db.and_then(|d| d.otks.as_ref());
    let have_subject = s.user.is_some() && s.device.is_some();
    match proof {
        Some(p) => {
            let full = format!("{}:{}", p.algorithm, p.key_id);
            q.evidence.push(Evidence::new(&p.source, quote(&p.quote)));
            q.details = json!({"keyId": p.key_id, "algorithm": p.algorithm, "counter": p.counter, "divergedPer400": p.diverged, "proofSource": p.source});
            match (otks, have_subject) {
                (Some(rows), true) => {
                    let db_src = format!("{} e2e_one_time_keys_json", db.unwrap().source);
                    match rows.iter().find(|o| o.algorithm == p.algorithm && o.key_id == p.key_id) {
                        Some(row) => {
                            q.evidence.push(Evidence::new(
                                &db_src,
                                format!("{full} stored at ts_added_ms={} : {}", row.ts_added_ms.unwrap_or(-1), quote(&row.key_json)),
                            ));
                            let stored: Option<Value> = serde_json::from_str(&row.key_json).ok();
                            match (&stored, &p.new_key) {
                                (Some(st), Some(new)) if keys_differ(st, new) => {
                                    q.answer = Answer::Yes;
                                    q.finding = format!("OTK divergence CONFIRMED for {full}: the server holds a different key than the client keeps uploading (KE-1 root condition)");
                                }
                                (Some(_), Some(_)) => {
                                    q.answer = Answer::No;
                                    q.finding = format!("the server holds the same value for {full} as the client sends: no divergence now (a re-upload would be accepted)");
                                }
                                _ => {
                                    // Synapse only answers "already exists" when the values differ.
                                    q.answer = Answer::Yes;
                                    q.finding = format!("{full} is on the server and Synapse rejected the client's upload of it, which it does only for a different value: divergence confirmed");
                                    q.to_settle.push("the client's request body for keys/upload (the 400 text was cut before the new key) would show the value itself".into());
                                }
                            }
                        }
                        None => {
                            q.answer = Answer::No;
                            q.evidence.push(Evidence::new(
                                &db_src,
                                format!(
                                    "{} one-time keys for {} {}, none with id {full}",
                                    rows.len(),
                                    s.user.as_deref().unwrap_or("?"),
                                    s.device.as_deref().unwrap_or("?")
                                ),
                            ));
                            q.finding =
                                format!("{full} is no longer on the server (claimed or deleted since the 400): not a standing divergence");
                        }
                    }
                }
                _ => match p.diverged {
                    Some(true) => {
                        q.answer = Answer::Yes;
                        q.finding = format!("Synapse's own 400 quotes its stored value for {full}, which differs from the client's (signatures aside): divergence confirmed as of that response");
                        q.to_settle.push(if db.is_none() {
                            "--synapse-db: confirm the server still holds the key (SELECT … FROM e2e_one_time_keys_json)".into()
                        } else {
                            "the user and device (--user/--device): the database could not be queried without them".into()
                        });
                    }
                    Some(false) => {
                        q.answer = Answer::No;
                        q.finding = format!("the 400 for {full} quotes the same key value as the client sent: not a divergence");
                    }
                    None => {
                        q.answer = Answer::Unknown;
                        q.finding = format!("the 400 for {full} was cut before both keys could be read, and no database was consulted");
                        q.to_settle
                            .push("--synapse-db with the report's user and device: is the key id stored with a different value?".into());
                        q.to_settle.push("--synapse-log: Synapse logs the full conflict text (SynapseError: 400 - One time key …)".into());
                    }
                },
            }
        }
        None => {
            // No conflict text anywhere: is there positive evidence that uploads were fine?
            let mut no_evidence = Vec::new();
            if let (Some(log), Some(u)) = (log, s.user.as_deref()) {
                if let Some(ups) = log.uploads_of(u) {
                    if let Some(a) = &ups.first_400 {
                        q.evidence.push(Evidence::new(log.source(a.loc), quote(&a.quote)));
                    }
                    if let (0, Some(a)) = (ups.rejected_400, &ups.last) {
                        no_evidence.push(Evidence::new(
                            log.source(a.loc),
                            format!("{} keys/upload requests by {u}, none answered 400; last: {}", ups.total, quote(&a.quote)),
                        ));
                    }
                }
            }
            if let Some(h) = har {
                let ok = h.uploads.iter().filter(|u| (200..300).contains(&u.call.status)).count();
                if ok > 0 && h.uploads.iter().all(|u| u.call.status != 400) {
                    let last = h.uploads.last().unwrap();
                    no_evidence.push(Evidence::new(
                        last.call.source(),
                        format!("{ok} keys/upload calls in the HAR, none answered 400; last: {}", last.call.describe()),
                    ));
                }
            }
            if let Some(o) = &r.otk_health {
                let conflicts = o.get("conflicts").or_else(|| o.get("uploads").and_then(|u| u.get("conflicts"))).and_then(Value::as_u64);
                let ok = o.get("uploads").and_then(|u| u.get("ok").or_else(|| u.get("accepted"))).and_then(Value::as_u64);
                if conflicts == Some(0) && ok.unwrap_or(0) > 0 {
                    no_evidence.push(Evidence::new(
                        "report otkHealth",
                        format!("HTTP tap: {} keys/upload accepted, 0 conflicts (outcome {})", ok.unwrap(), r.otk_outcome().unwrap_or("?")),
                    ));
                }
            }
            let console = r.count("KE-1");
            let http_conflicts = r
                .otk_health
                .as_ref()
                .and_then(|o| o.get("conflicts").or_else(|| o.get("uploads").and_then(|u| u.get("conflicts"))))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let har_400s = har.map_or(0, |h| h.uploads.iter().filter(|u| u.call.status == 400).count() as u64);
            if let Some(u) = har.and_then(|h| h.uploads.iter().find(|u| u.call.status == 400)) {
                q.evidence.push(Evidence::new(u.call.source(), u.call.describe()));
            }
            if r.upload_400s > 0 || http_conflicts > 0 || har_400s > 0 {
                q.answer = Answer::Unknown;
                q.evidence.push(Evidence::new("report", format!("{} keys/upload 400 line(s) without the conflict text", r.upload_400s)));
                q.finding = "keys/upload failed, but no conflict text names a key id".into();
                q.to_settle.push("--synapse-log for the same window: Synapse logs the conflict text with the key id".into());
            } else if !no_evidence.is_empty() {
                q.answer = Answer::No;
                q.evidence.extend(no_evidence);
                q.finding = "no one-time-key conflict: uploads for this device were accepted".into();
            } else if r.capture_installed && console == Some((0, 0)) {
                q.answer = Answer::No;
                q.evidence.push(Evidence::new(
                    "report counts[\"KE-1\"]",
                    format!("console tap installed, {} lines seen, 0 KE-1 lines", r.lines_seen),
                ));
                q.finding = "no KE-1 line was captured".into();
                q.to_settle.push("if the app disables the SDK logger (production Cinny does), only the HTTP tap (otkHealth) or --synapse-log can show KE-1".into());
            } else {
                q.answer = Answer::Unknown;
                q.finding = "the report has no KE-1 evidence either way (no conflict, no KE-1 count from an installed capture)".into();
                q.to_settle.push("a report with otkHealth (HTTP tap) or --synapse-log covering the window".into());
            }
        }
    }
    // Exhaustion branch: OTK count 0 and the fallback key used.
    let exhaustion = match (otks, db.and_then(|d| d.fallback.as_ref()), have_subject) {
        (Some(rows), fb, true) => {
            let signed = rows.iter().filter(|o| o.algorithm == "signed_curve25519").count();
            let fb_used = fb.map(|f| f.iter().any(|x| x.used));
            let src = db.unwrap().source.clone();
            q.evidence
                .push(Evidence::new(format!("{src} e2e_one_time_keys_json"), format!("signed_curve25519 count for the device: {signed}")));
            if let Some(f) = fb {
                q.evidence.push(Evidence::new(
                    format!("{src} e2e_fallback_keys_json"),
                    if f.is_empty() {
                        "no fallback key".to_string()
                    } else {
                        f.iter().map(|x| format!("{}:{} used={}", x.algorithm, x.key_id, x.used)).collect::<Vec<_>>().join(", ")
                    },
                ));
            }
            match (signed, fb_used) {
                (0, Some(true)) => Answer::Yes,
                (0, _) => Answer::Unknown,
                _ => Answer::No,
            }
        }
        _ => Answer::Unknown,
    };
    if let Value::Object(m) = &mut q.details {
        m.insert("exhaustion".into(), exhaustion.as_str().into());
    }
    if q.answer == Answer::No {
        match exhaustion {
            Answer::Yes => q.finding.push_str("; OTK EXHAUSTION instead (0 one-time keys, fallback key used): a different remediation"),
            Answer::No if proof.is_some() || r.upload_400s > 0 => {
                q.finding.push_str("; OTKs are not exhausted: suspect the SDK's upload-loop behaviour (runbook §3.3)")
            }
            _ => {}
        }
    }
    if !have_subject && db.is_some() {
        q.to_settle.push("the report has no session user/device: pass --user and --device to query the database".into());
    }
    (q, exhaustion)
}

fn ke1_forensics(r: &ReportFacts, db: Option<&DbFacts>, s: &Subject, p: &Proof, notes: &mut Vec<String>) -> Option<Forensics> {
    let (user, device) = (s.user.as_deref()?, s.device.as_deref()?);
    let row = db.and_then(|d| d.otks.as_ref()).and_then(|rows| rows.iter().find(|o| o.algorithm == p.algorithm && o.key_id == p.key_id));
    let (old, old_src) = match row.and_then(|r| serde_json::from_str::<Value>(&r.key_json).ok()) {
        Some(v) => (v, format!("{} e2e_one_time_keys_json", db.unwrap().source)),
        None => (p.old_key.clone()?, format!("{} (Synapse's 400 quotes its stored key)", p.source)),
    };
    let mut cands = Vec::new();
    if let Some(Some(dk)) = db.and_then(|d| d.device_keys.as_ref()) {
        match ed25519_of(dk, device) {
            Some(k) => cands.push(Candidate {
                label: format!("{} e2e_device_keys_json (the server's current device keys)", db.unwrap().source),
                ed25519: k,
            }),
            None => notes.push("the server's device keys have no ed25519 key for the device".into()),
        }
    }
    for (label, k) in r.identities() {
        cands.push(Candidate { label, ed25519: k });
    }
    if cands.is_empty() {
        notes.push(
            "KE-1 forensics skipped: no identity key known (no device keys in the database, no otkHealth.identity in the report)".into(),
        );
        return None;
    }
    let mut f = forensics::analyse(&p.key_id, &old, &old_src, p.new_key.as_ref(), user, device, cands);
    if f.current.as_ref().is_some_and(|c| c.label.contains("e2e_device_keys_json")) && f.verdict == Verdict::PreviousIdentity {
        f.notes.push("the server already advertises the new identity: Synapse stores device_keys before checking one-time keys, so the failing upload replaced them; peers holding the old one-time keys will fail to verify them".into());
    }
    if let Some(c) = p.counter {
        f.notes.push(format!(
            "key counter {c}: {}",
            if c < 100 {
                "a first batch — the account was created anew"
            } else {
                "mid-range — an account that had published many keys"
            }
        ));
    }
    Some(f)
}

// ------------------------------------------------------------------------------------ Q2
fn q2(r: &ReportFacts, log: Option<&SynapseLog>, db: Option<&DbFacts>, har: Option<&Har>, s: &Subject, q1: Answer) -> Question {
    let mut q = Question::new("Q2", "During the same call, are io.element.call.encryption_keys to-device events present for our device id (device_inbox / Synapse to-device logs)?");
    for x in r.ke2_missing.iter().take(3) {
        q.evidence.push(Evidence::new(&x.source, quote(&x.message)));
    }
    let delivered = r.ke2_delivered.len() + r.call_delivered.len();
    if !r.call_delivered.is_empty() || !r.call_sent_to.is_empty() || !r.call_missing.is_empty() {
        q.evidence.push(Evidence::new(
            "report call.participants",
            format!(
                "widget API: keys delivered to the call from {}; our keys sent to {}; missing keys for {}",
                list_or_none(&r.call_delivered),
                list_or_none(&r.call_sent_to),
                list_or_none(&r.call_missing)
            ),
        ));
    }
    if let Some(x) = r.ke2_delivered.first() {
        q.evidence
            .push(Evidence::new(&x.source, format!("{} (logged after a successful decryption: the call key arrived)", quote(&x.message))));
    }
    let mut plaintext = 0;
    let mut encrypted = 0;
    let inbox_known = db.and_then(|d| d.inbox.as_ref()).filter(|_| s.device.is_some());
    if let Some(types) = inbox_known {
        let src = format!("{} device_inbox", db.unwrap().source);
        plaintext = types.iter().filter(|(t, _)| t == "io.element.call.encryption_keys").map(|(_, n)| *n).sum::<u64>();
        encrypted = types.iter().filter(|(t, _)| t == "m.room.encrypted").map(|(_, n)| *n).sum::<u64>();
        let desc = if types.is_empty() {
            "no queued to-device messages".to_string()
        } else {
            types.iter().map(|(t, n)| format!("{t}: {n}")).collect::<Vec<_>>().join(", ")
        };
        q.evidence.push(Evidence::new(src, format!("queued for {}: {desc}", s.device.as_deref().unwrap_or("?"))));
    }
    if let Some(log) = log {
        for (n, l) in log.mentions(CALL_KEYS_SEND).take(2) {
            q.evidence.push(Evidence::new(log.source(*n), quote(l)));
        }
    }
    if let Some(h) = har {
        let sent: Vec<_> = h.to_device.iter().filter(|(_, t, _)| t == "io.element.call.encryption_keys").collect();
        if let Some((c, _, _)) = sent.first() {
            let devices: usize = sent.iter().map(|(_, _, n)| n).sum();
            q.evidence.push(Evidence::new(
                c.source(),
                format!(
                    "this client sent io.element.call.encryption_keys {} time(s) to {devices} device(s) in the HAR; first: {}",
                    sent.len(),
                    c.describe()
                ),
            ));
        }
    }
    let missing = !r.ke2_missing.is_empty();
    q.details = json!({"missingKeyLines": r.ke2_missing.len(), "deliveredLines": delivered, "inboxCallKeys": plaintext, "inboxEncrypted": encrypted, "missingKeysFor": r.call_missing});
    if !r.call_missing.is_empty() {
        q.answer = Answer::No;
        q.finding = format!(
            "missing keys for participant(s) {}: in the call, yet none of their io.element.call.encryption_keys was ever delivered to the call — their client did not send to this device, or the to-device message never arrived (stale device list / membership)",
            r.call_missing.join(", ")
        );
        q.to_settle.push("the missing participant's report (call.participants: were keys sent to this device?) or a Synapse log of the call window (sendToDevice)".into());
    } else if delivered > 0 || plaintext > 0 {
        q.answer = Answer::Yes;
        q.finding = if delivered > 0 && missing {
            "call keys arrive and decrypt, yet media keys are missing: KE-2 is downstream of LiveKit/SFU or key-index timing, NOT KE-1 (decouple from crypto)".into()
        } else if missing && q1 == Answer::Yes {
            "call keys are queued for the device while it cannot open them and KE-1 holds: KE-1 ⇒ KE-2 link".into()
        } else {
            "call keys reach the device".into()
        };
    } else if encrypted > 0 {
        q.answer = Answer::Unknown;
        q.finding = "encrypted to-device messages are queued for the device; the server cannot see whether they are call keys".into();
        q.to_settle.push("the client's report: a ke2.call_key_delivered line shows call keys arriving and decrypting".into());
    } else if inbox_known.is_some() && r.capture_installed && missing {
        q.answer = Answer::No;
        q.finding = "nothing is queued for the device and the client saw no call key arrive: media keys were never sent to this device id (stale device / membership, see KE-4) — weakly linked to KE-1".into();
        q.to_settle.push(
            "device_inbox is emptied as the device syncs: a Synapse log of the call window (sendToDevice) would show sends to the device"
                .into(),
        );
    } else {
        q.answer = Answer::Unknown;
        q.finding = if missing {
            "KE-2 lines seen, but no evidence about call-key delivery".into()
        } else {
            "no KE-2 symptom in the report; delivery not checked".into()
        };
        if inbox_known.is_none() {
            q.to_settle.push("--synapse-db (device_inbox for the device) during or right after the call".into());
        }
        q.to_settle.push("a report captured during the call (KE-2 MissingKey / call key delivered lines)".into());
    }
    q
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

// ------------------------------------------------------------------------------------ Q3
fn q3(r: &ReportFacts, log: Option<&SynapseLog>, db: Option<&DbFacts>, s: &Subject) -> Question {
    let mut q = Question::new("Q3", "KE-3: is content.algorithm NULL in event_json on the homeserver?");
    let from_report = r.ke3.iter().find_map(|x| x.fields.get("event_id").and_then(Value::as_str).map(|e| (e.to_string(), x)));
    let event = s.event.clone().or_else(|| from_report.as_ref().map(|(e, _)| e.clone()));
    if let Some((_, x)) = &from_report {
        q.evidence.push(Evidence::new(&x.source, quote(&x.message)));
    }
    // The report's UTD causes: which undecryptable events are data problems, which key problems.
    let causes: Map<String, Value> = r
        .utd
        .iter()
        .flat_map(|u| &u.causes)
        .filter(|(_, c)| c.count > 0)
        .map(|(k, c)| (k.clone(), json!({"count": c.count, "kind": c.kind})))
        .collect();
    let key_problems: u64 = r.utd.iter().flat_map(|u| u.causes.values()).filter(|c| c.kind != "data").map(|c| c.count).sum();
    let Some(event) = event else {
        q.finding = if key_problems > 0 {
            let list: Vec<String> = causes.iter().map(|(k, c)| format!("{k}: {}", c["count"])).collect();
            format!("no KE-3 event in the report and no --event: not applicable; its {key_problems} undecryptable event(s) are key or trust problems ({}), not malformed data", list.join(", "))
        } else {
            "no KE-3 event in the report and no --event: not applicable".into()
        };
        q.details = json!({"applicable": false, "utdCauses": causes, "keyProblems": key_problems});
        return q;
    };
    let room = from_report
        .as_ref()
        .filter(|(e, _)| *e == event)
        .and_then(|(_, x)| x.fields.get("room_id").and_then(Value::as_str).map(String::from));
    q.details = json!({"applicable": true, "eventId": event, "roomId": room, "utdCauses": causes, "keyProblems": key_problems});
    if let Some(log) = log {
        for (n, l) in log.mentions(&event).take(2) {
            q.evidence.push(Evidence::new(log.source(*n), quote(l)));
        }
    }
    match db.map(|d| (d, d.event.as_ref())) {
        Some((d, Some(Some(row)))) => {
            let v: Option<Value> = serde_json::from_str(&row.json).ok();
            let alg = v.as_ref().and_then(|v| v.get("content")).map(|c| c.get("algorithm").cloned().unwrap_or(Value::Null));
            q.evidence.push(Evidence::new(
                format!("{} event_json", d.source),
                format!(
                    "{event} type={} sender={} room={} content.algorithm={}",
                    row.event_type.as_deref().unwrap_or("?"),
                    row.sender.as_deref().unwrap_or("?"),
                    row.room_id,
                    alg.as_ref().map(|a| a.to_string()).unwrap_or_else(|| "(no content)".into())
                ),
            ));
            match alg {
                Some(Value::Null) | None => {
                    q.answer = Answer::Yes;
                    q.details["roomId"] = row.room_id.clone().into();
                    q.finding = format!("the stored event {event} in {} has no content.algorithm: a malformed event was persisted (sender or federation) — a data problem, not a key problem, independent of KE-1", row.room_id);
                }
                Some(_) => {
                    q.answer = Answer::No;
                    q.finding = "the stored event has its algorithm, yet the client fails to decode it: a client-side deserialisation bug, independent of KE-1".into();
                }
            }
        }
        Some((d, Some(None))) => {
            q.finding = format!("{event} is not in this database");
            q.evidence.push(Evidence::new(format!("{} event_json", d.source), format!("no row for {event}")));
            q.to_settle.push("the event's own homeserver database (the sender's server for a federated event), or the event JSON via GET /rooms/{roomId}/event/{eventId}".into());
        }
        Some((_, None)) => q.to_settle.push("a database with the event_json table".into()),
        None => q.to_settle.push("--synapse-db: the stored event's content.algorithm".into()),
    }
    q
}

// ------------------------------------------------------------------------------------ Q4
fn q4(r: &ReportFacts, log: Option<&SynapseLog>, har: Option<&Har>) -> Question {
    let mut q = Question::new("Q4", "KE-4: do delayed-event timeouts coincide with homeserver latency spikes in the same minute?");
    if let Some(h) = har.filter(|h| r.ke4.is_empty() && !h.delayed.is_empty()) {
        return q4_har(q, h, log);
    }
    if r.ke4.is_empty() {
        q.finding = "no KE-4 timeout in the report: not applicable".into();
        q.details = json!({"applicable": false});
        return q;
    }
    for x in r.ke4.iter().take(3) {
        q.evidence.push(Evidence::new(&x.source, quote(&x.message)));
    }
    let Some(log) = log else {
        q.finding = format!("{} KE-4 line(s) in the report; no server log to compare latency with", r.ke4.len());
        q.details = json!({"applicable": true});
        q.to_settle.push("--synapse-log covering the timeouts (request durations), or the Grafana p99 panel for the same minutes".into());
        return q;
    };
    let mut covered = 0;
    let mut slow: Vec<&Access> = Vec::new();
    let mut worst = 0.0f64;
    for x in &r.ke4 {
        if !log.covers(x.ts, KE4_WINDOW_BEFORE_MS) {
            continue;
        }
        covered += 1;
        let (from, to) = (x.ts.saturating_sub(KE4_WINDOW_BEFORE_MS), x.last_ts.max(x.ts) + KE4_WINDOW_AFTER_MS);
        for a in log.window_access.iter().filter(|a| a.ts.is_some_and(|t| t >= from && t <= to)) {
            let secs = a.secs.unwrap_or(0.0);
            worst = worst.max(secs);
            if secs >= KE4_LOCAL_TIMEOUT_S && !slow.iter().any(|s| s.loc == a.loc) {
                slow.push(a);
            }
        }
    }
    // The latency the client measured itself (HTTP tap / widget API), when the report has it.
    let measured = r.ke4.iter().filter_map(|x| x.fields.get("maxMs").and_then(Value::as_u64)).max();
    q.details = json!({"applicable": true, "timeouts": r.ke4.len(), "timeoutsCoveredByLog": covered, "slowRequests": slow.len(), "worstSeconds": worst, "clientMaxMs": measured});
    if covered == 0 {
        q.finding = "the log does not cover the timeouts' time (or the clocks differ)".into();
        q.to_settle.push("a Synapse log slice for the call window (check both clocks are UTC)".into());
    } else if !slow.is_empty() {
        q.answer = Answer::Yes;
        for a in slow.iter().take(3) {
            q.evidence.push(Evidence::new(log.source(a.loc), quote(&a.quote)));
        }
        q.finding = format!("{} request(s) took ≥ {KE4_LOCAL_TIMEOUT_S} s (the client's local timeout) around the timeouts: homeserver responsiveness/load — independent of KE-1..KE-3", slow.len());
    } else {
        q.answer = Answer::No;
        q.evidence
            .push(Evidence::new(log.source(log.end()), format!("every request within the timeout windows finished in ≤ {worst:.3} s")));
        q.finding =
            "the homeserver answered fast while the client timed out: client MembershipManager retry behaviour — independent".into();
    }
    q
}

/// Q4 from a HAR's delayed-event calls (a client without crypto-health): their status and the
/// server's share of their time (`timings.wait`), checked against the log when there is one.
fn q4_har(mut q: Question, h: &Har, log: Option<&SynapseLog>) -> Question {
    let calls = &h.delayed;
    let failed: Vec<_> = calls.iter().filter(|c| har_call_failed(c)).collect();
    let server_slow: Vec<_> = calls.iter().filter(|c| c.wait_ms.is_some_and(|w| w >= KE4_LOCAL_TIMEOUT_S * 1000.0)).collect();
    let worst_ms = calls.iter().map(|c| c.time_ms).fold(0.0f64, f64::max);
    let worst_wait = calls.iter().filter_map(|c| c.wait_ms).fold(0.0f64, f64::max);
    q.details = json!({"applicable": true, "source": "har", "harDelayedCalls": calls.len(), "timeouts": failed.len(), "serverSlow": server_slow.len(), "worstMs": worst_ms, "worstWaitMs": worst_wait});
    if failed.is_empty() {
        q.answer = Answer::No;
        let last = calls.last().unwrap();
        q.evidence.push(Evidence::new(
            last.source(),
            format!(
                "{} delayed-event call(s) in the HAR, every one answered, the slowest in {worst_ms:.0} ms; last: {}",
                calls.len(),
                last.describe()
            ),
        ));
        q.finding = format!("no delayed-event timeout in this capture: the homeserver answered every delayed-event call within the client's {KE4_LOCAL_TIMEOUT_S} s timeout");
        return q;
    }
    for c in failed.iter().take(3) {
        q.evidence.push(Evidence::new(c.source(), c.describe()));
    }
    if !server_slow.is_empty() {
        q.answer = Answer::Yes;
        q.finding = format!("the homeserver took ≥ {KE4_LOCAL_TIMEOUT_S} s to answer {} delayed-event call(s) (HAR timings.wait, up to {worst_wait:.0} ms): homeserver responsiveness/load — independent of KE-1..KE-3", server_slow.len());
        return q;
    }
    if let Some(log) = log {
        let slow: Vec<&Access> = log.window_access.iter().filter(|a| a.secs.unwrap_or(0.0) >= KE4_LOCAL_TIMEOUT_S).collect();
        if let Some(a) = slow.first() {
            q.answer = Answer::Yes;
            q.evidence.push(Evidence::new(log.source(a.loc), quote(&a.quote)));
            q.finding = format!(
                "{} request(s) took ≥ {KE4_LOCAL_TIMEOUT_S} s on the server around the failed delayed-event calls: homeserver latency",
                slow.len()
            );
        } else if log.window_access.is_empty() {
            q.finding = "the log does not cover the failed calls' time (or the clocks differ)".into();
            q.to_settle.push("a Synapse log slice for the call window (check both clocks are UTC)".into());
        } else {
            q.answer = Answer::No;
            q.evidence.push(Evidence::new(
                log.source(log.end()),
                format!("{} request(s) logged around the failed calls, none took ≥ {KE4_LOCAL_TIMEOUT_S} s", log.window_access.len()),
            ));
            q.finding = "the homeserver answered fast while the client's delayed-event calls failed: client MembershipManager retry behaviour — independent".into();
        }
        return q;
    }
    if failed.iter().all(|c| c.status != 0) {
        q.answer = Answer::No;
        q.finding = format!("the failed delayed-event calls were answered with a short server wait (≤ {worst_wait:.0} ms): the time went elsewhere (network, client), not to homeserver load");
    } else {
        q.finding = "delayed-event calls got no answer in the HAR: the browser does not say whether the server was slow".into();
        q.to_settle.push("--synapse-log for the call window: Synapse's request durations".into());
    }
    q
}

// ----------------------------------------------------------------------------------- §6.4
fn q6_4(r: &ReportFacts, db: Option<&DbFacts>, q1: Answer) -> Question {
    let mut q = Question::new("6.4", "Does KE-2 occur while one-time-key counts are healthy and no KE-1 storm is present (Q1 = no)?");
    if r.ke2_missing.is_empty() {
        q.finding = "no KE-2 in the report: the discriminator does not apply".into();
        q.details = json!({"applicable": false});
        return q;
    }
    q.evidence.push(Evidence::new(&r.ke2_missing[0].source, quote(&r.ke2_missing[0].message)));
    let otk_count = db.and_then(|d| d.otks.as_ref()).map(|rows| rows.iter().filter(|o| o.algorithm == "signed_curve25519").count());
    if let Some(n) = otk_count {
        q.evidence.push(Evidence::new(format!("{} e2e_one_time_keys_json", db.unwrap().source), format!("signed_curve25519 count: {n}")));
    }
    q.details = json!({"applicable": true, "q1": q1.as_str(), "otkCount": otk_count});
    match (q1, otk_count) {
        (Answer::Yes, _) => {
            q.answer = Answer::No;
            q.finding = "KE-2 co-occurs with the KE-1 storm: the KE-1 ⇒ KE-2 chain stands".into();
        }
        (Answer::No, Some(n)) if n > 0 => {
            q.answer = Answer::Yes;
            q.finding = "KE-2 without KE-1 and with healthy OTK counts: suspect crypto-wasm 18.3.x to-device validation (EC ↔ rust-crypto), not KE-1".into();
        }
        (Answer::No, _) => {
            q.finding = "Q1 = no, but the OTK count is not known (or 0)".into();
            q.to_settle.push("--synapse-db: the device's one-time-key count".into());
        }
        (Answer::Unknown, _) => {
            q.finding = "Q1 is unknown, so the discriminator cannot be applied".into();
            q.to_settle.push("settle Q1 first".into());
        }
    }
    q
}

// ---------------------------------------------------------------------------- conclusions
#[allow(clippy::too_many_arguments)]
fn conclude(
    r: &ReportFacts,
    q1: &Question,
    exhaustion: Answer,
    f: Option<&Forensics>,
    q2: &Question,
    q3: &Question,
    q4: &Question,
    q64: &Question,
    p: Option<&Proof>,
) -> Vec<Conclusion> {
    let ke1 = match q1.answer {
        Answer::Yes => {
            let cause = match f.map(|f| &f.verdict) {
                Some(Verdict::PreviousIdentity) => "cause: the server's key was signed by a previous identity — the device's crypto store was reset or evicted while its session survived".to_string(),
                Some(Verdict::ConcurrentWriter) => "cause: the server's key was signed by the current identity — a concurrent writer (two tabs/clients on one store)".to_string(),
                _ if r.otk_health.as_ref().and_then(|o| o.get("trigger")?.get("kind")?.as_str()).is_some_and(|k| k != "unknown") => format!(
                    "cause per the client's detector (otkHealth.trigger): {}",
                    r.otk_health.as_ref().and_then(|o| o.get("trigger")).map(|t| t.to_string()).unwrap_or_default()
                ),
                _ if r.findings.iter().any(|(id, _)| id == "crypto_store_missing") => "cause: the report saw the crypto store missing for a live session (eviction)".to_string(),
                _ => match p.and_then(|p| p.counter) {
                    Some(c) if c < 100 => format!("cause (from the key counter {c} alone): a re-created account under the old device id"),
                    _ => "cause not established (no identity keys to check the signatures against)".to_string(),
                },
            };
            Conclusion { ke: "KE-1", status: "confirmed", summary: format!("{} — {cause}", q1.finding) }
        }
        Answer::No if exhaustion == Answer::Yes => {
            Conclusion { ke: "KE-1", status: "excluded", summary: "not a divergence: one-time keys are exhausted (fallback used)".into() }
        }
        Answer::No => Conclusion { ke: "KE-1", status: "excluded", summary: q1.finding.clone() },
        Answer::Unknown => Conclusion { ke: "KE-1", status: "unknown", summary: q1.finding.clone() },
    };
    let ke2 = if r.ke2_missing.is_empty() {
        Conclusion { ke: "KE-2", status: "not_seen", summary: "no MissingKey / key set not found line in the report".into() }
    } else if q64.answer == Answer::Yes {
        Conclusion { ke: "KE-2", status: "independent", summary: q64.finding.clone() }
    } else if q1.answer == Answer::Yes && q2.answer != Answer::Yes {
        Conclusion { ke: "KE-2", status: "linked_to_ke1", summary: "KE-2 co-occurs with a confirmed KE-1: no fresh Olm sessions can be made with this device, so call keys sent to it cannot be opened".into() }
    } else if q2.answer != Answer::Unknown {
        Conclusion {
            ke: "KE-2",
            status: if q2.finding.contains("NOT KE-1") {
                "independent"
            } else if q2.finding.contains("link") {
                "linked_to_ke1"
            } else {
                "device_targeting"
            },
            summary: q2.finding.clone(),
        }
    } else {
        Conclusion { ke: "KE-2", status: "unknown", summary: q2.finding.clone() }
    };
    let ke3 = match (q3.details.get("applicable").and_then(Value::as_bool), q3.answer) {
        (Some(false), _) => Conclusion { ke: "KE-3", status: "not_seen", summary: q3.finding.clone() },
        (_, Answer::Yes) => Conclusion { ke: "KE-3", status: "data_problem", summary: q3.finding.clone() },
        (_, Answer::No) => Conclusion { ke: "KE-3", status: "client_problem", summary: q3.finding.clone() },
        _ => Conclusion { ke: "KE-3", status: "unknown", summary: q3.finding.clone() },
    };
    let ke4 = match (q4.details.get("applicable").and_then(Value::as_bool), q4.answer) {
        (Some(false), _) => Conclusion { ke: "KE-4", status: "not_seen", summary: q4.finding.clone() },
        _ if q4.details.get("timeouts").and_then(Value::as_u64) == Some(0) => {
            Conclusion { ke: "KE-4", status: "not_seen", summary: q4.finding.clone() }
        }
        (_, Answer::Yes) => Conclusion { ke: "KE-4", status: "homeserver_latency", summary: q4.finding.clone() },
        (_, Answer::No) => Conclusion { ke: "KE-4", status: "client_retry", summary: q4.finding.clone() },
        _ => Conclusion { ke: "KE-4", status: "unknown", summary: q4.finding.clone() },
    };
    vec![ke1, ke2, ke3, ke4]
}

// --------------------------------------------------------------------------- remediations
fn remediations(q1: Answer, f: Option<&Forensics>) -> Vec<Remediation> {
    let ke1 = q1 == Answer::Yes;
    let pending = "Q1 is not yes: confirm the root condition before any remediation (runbook §3)".to_string();
    vec![
        Remediation {
            rank: 1,
            id: "device_relogin",
            title: "Per-device logout + re-login of the affected device",
            blast_radius: "that device only; other sessions and devices untouched",
            applies: ke1,
            first_safe: ke1,
            why: if ke1 { "a new device id gets fresh device keys and a clean one-time-key batch, sidestepping the diverged store; the only real remedy for a device in this state".into() } else { pending.clone() },
            steps: vec![
                "check that key backup is enabled and up to date, and that the recovery key or passphrase is at hand",
                "sign out with the app's Sign out (a server-side logout that deletes the device and its one-time keys)",
                "log in again: a new device id, new identity keys",
                "verify the new device (cross-signing) and restore room keys from backup",
            ],
            guardrails: vec![
                "clearing site data or the crypto store WITHOUT logout keeps the old device id and repeats KE-1",
                "without key backup, history only this device could decrypt is lost",
            ],
        },
        Remediation {
            rank: 2,
            id: "client_store_reset",
            title: "Client crypto-store reset (clearLoginData path)",
            blast_radius: "this browser profile, totally: logged out, sync cache, drafts, settings and the local room-key store",
            applies: ke1,
            first_safe: false,
            why: if ke1 { "only if option 1 did not clear it: the store itself is corrupt; it must end in a real logout, or KE-1 repeats".into() } else { pending.clone() },
            steps: vec!["verify key backup and recovery key first", "sign out (server-side), then clear the profile's storage", "log in and restore from key backup"],
            guardrails: vec!["local room keys are destroyed: anything not in key backup becomes permanently undecryptable", "cross-signing must be re-established"],
        },
        Remediation {
            rank: 3,
            id: "sdk_pin",
            title: "SDK pin change (matrix-js-sdk / crypto-wasm)",
            blast_radius: "every user after the next deploy",
            applies: false,
            first_safe: false,
            why: "closed for KE-1 (runbook §6.1): no released SDK fixes the OTK upload loop (matrix-rust-sdk #5200 open); hygiene only".into(),
            steps: vec!["re-read the changelogs for one-time-key / keys-upload entries", "test the rust-crypto IndexedDB schema on downgrade (IDB_VERSION_CONFLICT)"],
            guardrails: vec!["a downgrade can hit the IndexedDB version-conflict path"],
        },
        Remediation {
            rank: 4,
            id: "otk_row_surgery",
            title: "Synapse-side one-time-key row surgery (LAST RESORT)",
            blast_radius: "every device of the user and everyone who claimed one of those keys; easy to get wrong",
            applies: false,
            first_safe: false,
            why: match (ke1, f.map(|f| &f.verdict)) {
                (true, _) => "not recommended: option 1 resolves KE-1 with a far smaller blast radius; only if options 1–2 failed, and only under every guardrail below".into(),
                _ => "never speculatively: Q1 is not yes".into(),
            },
            steps: vec![
                "planning session with the homeserver owner",
                "delete only the exact diverged key_id for the exact user_id and device_id",
                "restart Synapse to flush its one-time-key count caches",
                "then log the device out and in (option 1) so it republishes",
            ],
            guardrails: vec![
                "full database backup first (pg_dump of synapse)",
                "during zero active calls",
                "exact key_id + device_id only — never a broad DELETE",
                "restart Synapse afterwards (cached counts otherwise stay wrong and worsen the loop)",
                "never run speculatively",
            ],
        },
    ]
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
