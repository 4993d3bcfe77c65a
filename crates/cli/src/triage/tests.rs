//! The core's decision tree on facts read by this crate's log parser and with vodozemac's
//! signature checks (the branches that need neither are tested in the core:
//! crates/core/tests/triage.rs).

use super::forensics::Vodozemac;
use crate::server::log::{self, LogQuery};
use crypto_health_core::otk::conflict::OtkConflict;
use crypto_health_core::otk::key_id::IdScheme;
use crypto_health_core::triage::facts::{Call, DbFacts, EventRow, Har, OtkRow, ReportFacts, Sighting, SynapseLog};
use crypto_health_core::triage::forensics::{self, Verdict};
use crypto_health_core::triage::model::{Answer, Question};
use crypto_health_core::triage::proof::{pick as pick_proof, Proof};
use crypto_health_core::triage::{q4_windows, Inputs, Subject, Triage, CALL_KEYS_SEND};
use serde_json::{json, Map, Value};
use vodozemac::Ed25519SecretKey;

/// The tree over the facts given (the CLI's `run` gathers them from files).
fn decide(r: &ReportFacts, log: Option<&SynapseLog>, db: Option<&DbFacts>, har: Option<&Har>, s: &Subject) -> Triage {
    crypto_health_core::triage::decide(&Inputs { report: r, log, db, har, subject: s, signatures: &Vodozemac })
}

const U: &str = "@a:hs";
const D: &str = "DEV";
const T: u64 = 1_795_294_148_000; // 2026-11-21 20:49:08 UTC

fn facts() -> ReportFacts {
    let mut r = ReportFacts::empty();
    r.user_id = Some(U.into());
    r.device_id = Some(D.into());
    r
}

fn subject() -> Subject {
    Subject { user: Some(U.into()), device: Some(D.into()), event: None }
}

fn no_subject() -> Subject {
    Subject { user: None, device: None, event: None }
}

fn proof(diverged: Option<bool>, new_key: Option<Value>) -> Proof {
    Proof {
        source: "report entries[0] (ke1.otk_conflict)".into(),
        quote: "One time key signed_curve25519:AAAAAAAAAA0 already exists".into(),
        conflict: OtkConflict {
            algorithm: "signed_curve25519".into(),
            key_id: "AAAAAAAAAA0".into(),
            scheme: IdScheme::Vodozemac,
            counter: Some(13),
            old_key: Some(json!({"key": "OLD"})),
            new_key,
            diverged,
        },
    }
}

fn otk(id: &str, key_json: &str) -> OtkRow {
    OtkRow { algorithm: "signed_curve25519".into(), key_id: id.into(), ts_added_ms: Some(1), key_json: key_json.into() }
}

fn db(otks: Vec<OtkRow>) -> DbFacts {
    DbFacts {
        source: "db test.db".into(),
        otks: Some(otks),
        fallback: Some(vec![]),
        device_keys: Some(None),
        devices: Some(vec![]),
        inbox: Some(vec![]),
        event: None,
        peers: vec![],
        missing: vec![],
    }
}

fn sighting(msg: &str, fields: Value) -> Sighting {
    Sighting {
        source: "report entries[1]".into(),
        ts: T,
        last_ts: T,
        fields: fields.as_object().cloned().unwrap_or_else(Map::new),
        message: msg.into(),
    }
}

fn access(ts: &str, secs: f64, status: u16, path: &str) -> String {
    format!("{ts} - synapse.access.http.8008 - 643 - INFO - POST-1 - 127.0.0.1 - 8008 - {{{U}}} Processed request: {secs:.3}sec/0.000sec ru=(0.001sec, 0.000sec) db=(0.001sec/0.001sec/1) 2B {status} \"POST {path} HTTP/1.1\" \"x\" [0 dbevts]\n")
}

fn log_of(text: &str, r: &ReportFacts, har: Option<&Har>) -> log::SynapseLog {
    let q = LogQuery {
        user: Some(U.into()),
        windows: q4_windows(r, har),
        mentions: vec![CALL_KEYS_SEND.into(), "$ev1".into()],
        conflict_window: None,
    };
    log::parse("homeserver.log", text, &q)
}

fn q<'a>(t: &'a Triage, id: &str) -> &'a Question {
    t.questions.iter().find(|x| x.id == id).unwrap()
}

fn ke(t: &Triage, k: &str) -> &'static str {
    t.conclusions.iter().find(|c| c.ke == k).unwrap().status
}

// ------------------------------------------------------------------------------------ Q1
#[test]
fn pick_proof_prefers_complete_then_log() {
    let conflict = "2026-11-21 20:49:08,659 - synapse.http.server - 132 - INFO - POST-10 - SynapseError: 400 - One time key signed_curve25519:AAAAAAAAAAE already exists. Old key: {\"key\":\"L1\",\"signatures\":{\"@a:hs\":{\"ed25519:DEV\":\"s\"}}}; new key: {'key': 'L2', 'signatures': {'@a:hs': {'ed25519:DEV': 't'}}}\n";
    let mut r = facts();
    r.ke1.push(proof(None, None));
    let l = log_of(conflict, &r, None);
    // A cut report proof loses to the log's complete one.
    let p = pick_proof(&r, Some(&l), Some(U)).unwrap();
    assert_eq!((p.conflict.key_id.as_str(), p.conflict.diverged, p.source.as_str()), ("AAAAAAAAAAE", Some(true), "homeserver.log:1"));
    // ... but a complete report proof wins over the log.
    r.ke1.push(proof(Some(true), Some(json!({"key": "NEW"}))));
    assert_eq!(pick_proof(&r, Some(&l), Some(U)).unwrap().conflict.key_id, "AAAAAAAAAA0");
    // The log of another user is not a proof for this one; the cut proof stays.
    let mut r = facts();
    r.ke1.push(proof(None, None));
    assert_eq!(pick_proof(&r, Some(&l), Some("@b:hs")).unwrap().conflict.diverged, None);
    assert!(pick_proof(&facts(), None, Some(U)).is_none());
}

#[test]
fn q1_without_any_conflict() {
    // 400s without conflict text: unknown.
    let mut r = facts();
    r.upload_400s = 2;
    let t = decide(&r, None, None, None, &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Unknown);
    assert!(q(&t, "Q1").finding.contains("no conflict text"));

    // The log: every upload accepted.
    let r = facts();
    let l = log_of(&access("2026-11-21 20:49:08,000", 0.01, 200, "/_matrix/client/v3/keys/upload"), &r, None);
    let t = decide(&r, Some(&l), None, None, &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::No);
    assert!(q(&t, "Q1").evidence[0].text.contains("none answered 400"));
    // ... a 400 there (no conflict text) is unknown, and quoted.
    let l = log_of(&access("2026-11-21 20:49:08,000", 0.01, 400, "/_matrix/client/v3/keys/upload"), &r, None);
    let t = decide(&r, Some(&l), None, None, &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Unknown, "a 400 without conflict text is never a no");
    assert!(q(&t, "Q1").evidence.iter().any(|e| e.source == "homeserver.log:1"));

    // otkHealth: accepted uploads, no conflicts.
    let mut r = facts();
    r.otk_health = Some(json!({"uploads": {"accepted": 3, "conflicts": 0}, "outcome": "healthy"}));
    assert_eq!(q(&decide(&r, None, None, None, &subject()), "Q1").answer, Answer::No);
    // otkHealth conflicts without a proof: unknown.
    r.otk_health = Some(json!({"uploads": {"accepted": 3, "conflicts": 2}}));
    assert_eq!(q(&decide(&r, None, None, None, &subject()), "Q1").answer, Answer::Unknown);

    // An installed console tap that saw no KE-1 line.
    let mut r = facts();
    r.capture_installed = true;
    r.counts.push(("KE-1".into(), 0, 0));
    let t = decide(&r, None, None, None, &subject());
    assert_eq!((q(&t, "Q1").answer, q(&t, "Q1").to_settle.len()), (Answer::No, 1));
    // Nothing at all.
    let t = decide(&facts(), None, None, None, &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Unknown);
    assert!(q(&t, "Q1").finding.contains("no KE-1 evidence"));
}

fn har_call(index: usize, path: &str, status: u16, time_ms: f64, wait_ms: Option<f64>) -> Call {
    Call {
        index,
        ts: Some(T),
        method: "POST".into(),
        path: path.into(),
        status,
        time_ms,
        wait_ms,
        error: (status == 0).then(|| "net::ERR_ABORTED".into()),
    }
}

// ------------------------------------------------------------------------------ forensics
fn signed(sk: &Ed25519SecretKey, key: &str) -> Value {
    let sig = sk.sign(forensics::canonical_json(&json!({"key": key})).as_bytes()).to_base64();
    json!({"key": key, "signatures": {U: {format!("ed25519:{D}"): sig}}})
}

#[test]
fn forensics_branches_and_causes() {
    let (old_sk, new_sk) = (Ed25519SecretKey::new(), Ed25519SecretKey::new());
    let mut r = facts();
    r.ke1.push(proof(Some(true), Some(signed(&new_sk, "NEW"))));
    let mut d = db(vec![otk("AAAAAAAAAA0", &signed(&old_sk, "OLD").to_string())]);
    d.device_keys = Some(Some(json!({"keys": {format!("ed25519:{D}"): new_sk.public_key().to_base64()}})));
    let t = decide(&r, None, Some(&d), None, &subject());
    let f = t.forensics.as_ref().unwrap();
    assert_eq!(f.verdict, Verdict::PreviousIdentity);
    assert!(f.old_key_source.contains("e2e_one_time_keys_json"));
    assert!(f.notes.iter().any(|n| n.contains("already advertises")) && f.notes.iter().any(|n| n.contains("key counter 13")));
    assert!(t.conclusions[0].summary.contains("previous identity"));

    // The same identity signed the stored key: a concurrent writer, and the tab guard advice.
    let mut d2 = db(vec![otk("AAAAAAAAAA0", &signed(&new_sk, "OLD").to_string())]);
    d2.device_keys = d.device_keys.clone();
    let t = decide(&r, None, Some(&d2), None, &subject());
    assert_eq!(t.forensics.as_ref().unwrap().verdict, Verdict::ConcurrentWriter);
    assert!(t.conclusions[0].summary.contains("concurrent writer"));
    assert!(t.prevention.iter().any(|p| p.contains("tab guard")));

    // No database row: the 400's quote is the old key; identities from the report.
    let mut r2 = facts();
    let mut p = proof(Some(true), Some(signed(&new_sk, "NEW")));
    p.conflict.old_key = Some(signed(&old_sk, "OLD"));
    r2.ke1.push(p);
    r2.otk_health = Some(json!({"identity": {"known": old_sk.public_key().to_base64(), "replacedBy": new_sk.public_key().to_base64()}}));
    let f = decide(&r2, None, None, None, &subject()).forensics.unwrap();
    assert!(f.old_key_source.contains("400 quotes"));
    assert_eq!(f.old_signed_by, vec!["report otkHealth.identity.known".to_string()]);

    // Device keys without an ed25519 key, and no report identity: skipped, with notes.
    let mut d3 = db(vec![]);
    d3.device_keys = Some(Some(json!({"keys": {}})));
    let t = decide(&r, None, Some(&d3), None, &subject());
    assert!(t.forensics.is_none());
    assert!(t.notes.iter().any(|n| n.contains("no ed25519 key")) && t.notes.iter().any(|n| n.contains("forensics skipped")));
    // No subject: no forensics.
    assert!(decide(&r, None, Some(&d), None, &no_subject()).forensics.is_none());
}

// ------------------------------------------------------------------------------------ Q2
#[test]
fn q2_branches() {
    let missing = || sighting("MissingKey: missing key at index 3", json!({}));
    // Call keys delivered and decrypted, media keys still missing: not KE-1.
    let mut r = facts();
    r.ke2_missing.push(missing());
    r.ke2_delivered.push(sighting("call key delivered", json!({})));
    let t = decide(&r, None, None, None, &subject());
    assert_eq!(q(&t, "Q2").answer, Answer::Yes);
    assert_eq!(ke(&t, "KE-2"), "independent");
    // Queued call keys while KE-1 holds: linked.
    let mut r = facts();
    r.ke2_missing.push(missing());
    r.ke1.push(proof(Some(true), Some(json!({"key": "NEW"}))));
    let mut d = db(vec![otk("AAAAAAAAAA0", r#"{"key":"OLD"}"#)]);
    d.inbox = Some(vec![("io.element.call.encryption_keys".into(), 2)]);
    let t = decide(&r, None, Some(&d), None, &subject());
    assert!(q(&t, "Q2").finding.contains("KE-1 ⇒ KE-2"));
    assert_eq!(ke(&t, "KE-2"), "linked_to_ke1");
    // Plain "call keys reach the device".
    let t = decide(&facts(), None, Some(&d), None, &subject());
    assert_eq!((q(&t, "Q2").answer, q(&t, "Q2").finding.as_str()), (Answer::Yes, "call keys reach the device"));
    assert_eq!(ke(&t, "KE-2"), "not_seen");
    // Only encrypted to-device: the server cannot tell.
    let mut d = db(vec![]);
    d.inbox = Some(vec![("m.room.encrypted".into(), 4)]);
    assert_eq!(q(&decide(&facts(), None, Some(&d), None, &subject()), "Q2").answer, Answer::Unknown);
    // Nothing queued, capture on, KE-2 seen: never sent to this device id.
    let mut r = facts();
    r.capture_installed = true;
    r.ke2_missing.push(missing());
    let t = decide(&r, None, Some(&db(vec![otk("K", "{}")])), None, &subject());
    assert_eq!(q(&t, "Q2").answer, Answer::No);
    assert_eq!(ke(&t, "KE-2"), "linked_to_ke1", "weakly linked: {}", q(&t, "Q2").finding);
    // Call keys queued for the device, media keys missing, Q1 not yes: a device-targeting question.
    let mut d = db(vec![]);
    d.inbox = Some(vec![("io.element.call.encryption_keys".into(), 1)]);
    let mut r2 = facts();
    r2.ke2_missing.push(missing());
    assert_eq!(ke(&decide(&r2, None, Some(&d), None, &subject()), "KE-2"), "device_targeting");
    // No evidence: unknown, and what would settle it.
    let mut r = facts();
    r.ke2_missing.push(missing());
    let t = decide(&r, None, None, None, &subject());
    assert_eq!(q(&t, "Q2").answer, Answer::Unknown);
    assert_eq!(q(&t, "Q2").to_settle.len(), 2);
    assert_eq!(ke(&t, "KE-2"), "unknown");
    // The log and a HAR add their sendToDevice evidence.
    let line = access("2026-11-21 20:49:08,000", 0.01, 200, "/_matrix/client/v3/sendToDevice/io.element.call.encryption_keys/t1");
    let l = log_of(&line, &r, None);
    let h = Har {
        file: "c.har".into(),
        to_device: vec![(
            har_call(4, "/_matrix/client/v3/sendToDevice/io.element.call.encryption_keys/t", 200, 5.0, None),
            "io.element.call.encryption_keys".into(),
            3,
        )],
        ..Default::default()
    };
    let t = decide(&r, Some(&l), None, Some(&h), &subject());
    assert!(q(&t, "Q2").evidence.iter().any(|e| e.source == "homeserver.log:1"));
    assert!(q(&t, "Q2").evidence.iter().any(|e| e.source == "har entries[4]" && e.text.contains("to 3 device(s)")));
}

// ------------------------------------------------------------------------------------ Q3
#[test]
fn q3_branches() {
    let t = decide(&facts(), None, None, None, &subject());
    assert_eq!((q(&t, "Q3").details["applicable"].as_bool(), ke(&t, "KE-3")), (Some(false), "not_seen"));
    let mut r = facts();
    r.ke3.push(sighting("Error decrypting event (id=$ev1 …): missing field `algorithm`", json!({"event_id": "$ev1"})));
    let row = |json: &str| {
        Some(Some(EventRow {
            event_type: Some("m.room.encrypted".into()),
            sender: Some("@b:hs".into()),
            room_id: "!r:hs".into(),
            json: json.into(),
        }))
    };
    let mut d = db(vec![]);
    d.event = row(r#"{"content":{"ciphertext":"x"}}"#);
    let t = decide(&r, None, Some(&d), None, &subject());
    assert_eq!((q(&t, "Q3").answer, ke(&t, "KE-3")), (Answer::Yes, "data_problem"));
    d.event = row(r#"{"content":{"algorithm":"m.megolm.v1.aes-sha2"}}"#);
    let t = decide(&r, None, Some(&d), None, &subject());
    assert_eq!((q(&t, "Q3").answer, ke(&t, "KE-3")), (Answer::No, "client_problem"));
    d.event = Some(None);
    let t = decide(&r, None, Some(&d), None, &subject());
    assert_eq!((q(&t, "Q3").answer, ke(&t, "KE-3")), (Answer::Unknown, "unknown"));
    assert!(q(&t, "Q3").finding.contains("not in this database"));
    d.event = None;
    assert!(q(&decide(&r, None, Some(&d), None, &subject()), "Q3").to_settle[0].contains("event_json table"));
    assert!(q(&decide(&r, None, None, None, &subject()), "Q3").to_settle[0].starts_with("--synapse-db"));
    // --event alone, and the log lines that mention it.
    let s = Subject { event: Some("$ev1".into()), ..subject() };
    let l = log_of("2026-11-21 20:49:08,000 - synapse.x - 1 - INFO - GET-1 - persisted $ev1\n", &facts(), None);
    let t = decide(&facts(), Some(&l), None, None, &s);
    assert_eq!(q(&t, "Q3").details["eventId"], "$ev1");
    assert!(q(&t, "Q3").evidence.iter().any(|e| e.source == "homeserver.log:1"));
}

// ------------------------------------------------------------------------------------ Q4
#[test]
fn q4_from_the_report_and_log() {
    let t = decide(&facts(), None, None, None, &subject());
    assert_eq!(ke(&t, "KE-4"), "not_seen");
    let mut r = facts();
    r.ke4.push(sighting("Restart delayed event timed out before the HS responded", json!({})));
    let t = decide(&r, None, None, None, &subject());
    assert_eq!((q(&t, "Q4").answer, ke(&t, "KE-4")), (Answer::Unknown, "unknown"));
    assert!(q(&t, "Q4").to_settle[0].starts_with("--synapse-log"));
    let slow = access("2026-11-21 20:49:09,000", 3.5, 200, "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/d/restart");
    let t = decide(&r, Some(&log_of(&slow, &r, None)), None, None, &subject());
    assert_eq!((q(&t, "Q4").answer, ke(&t, "KE-4")), (Answer::Yes, "homeserver_latency"));
    let fast = access("2026-11-21 20:49:09,000", 0.05, 200, "/_matrix/client/v3/sync");
    let t = decide(&r, Some(&log_of(&fast, &r, None)), None, None, &subject());
    assert_eq!((q(&t, "Q4").answer, ke(&t, "KE-4")), (Answer::No, "client_retry"));
    // A log of another day does not cover the timeout.
    let other = access("2026-11-20 10:00:00,000", 3.5, 200, "/x");
    let t = decide(&r, Some(&log_of(&other, &r, None)), None, None, &subject());
    assert_eq!(q(&t, "Q4").answer, Answer::Unknown);
    assert!(q(&t, "Q4").finding.contains("does not cover"));
}

#[test]
fn q4_reads_the_measured_delayed_event_latency() {
    let mut r = facts();
    r.ke4.push(Sighting {
        source: "report findings (delayed_events_slow)".into(),
        ts: T,
        last_ts: T,
        fields: json!({"maxMs": 2650, "overLocalTimeout": 3}).as_object().cloned().unwrap(),
        message: "3 of 9 delayed-event calls took longer than 2000 ms".into(),
    });
    let slow = access("2026-11-21 20:49:07,500", 2.6, 200, "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/d/restart");
    let t = decide(&r, Some(&log_of(&slow, &r, None)), None, None, &subject());
    assert_eq!((q(&t, "Q4").answer, ke(&t, "KE-4")), (Answer::Yes, "homeserver_latency"));
    assert_eq!(q(&t, "Q4").details["clientMaxMs"], 2650);
    assert!(q(&t, "Q4").evidence.iter().any(|e| e.source == "report findings (delayed_events_slow)"));
}

#[test]
fn q4_from_a_har() {
    let path = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/d1";
    let har = |calls: Vec<Call>| Har { file: "c.har".into(), delayed: calls, ..Default::default() };
    // All answered in time: no timeout in this capture.
    let h = har(vec![har_call(1, path, 200, 40.0, Some(30.0))]);
    let t = decide(&facts(), None, None, Some(&h), &subject());
    assert_eq!((q(&t, "Q4").answer, ke(&t, "KE-4")), (Answer::No, "not_seen"));
    // The server took ≥ 2 s.
    let h = har(vec![har_call(1, path, 200, 2500.0, Some(2400.0))]);
    let t = decide(&facts(), None, None, Some(&h), &subject());
    assert_eq!((q(&t, "Q4").answer, ke(&t, "KE-4")), (Answer::Yes, "homeserver_latency"));
    // No answer: the log decides.
    let h = har(vec![har_call(1, path, 0, 2000.0, None)]);
    let t = decide(&facts(), None, None, Some(&h), &subject());
    assert_eq!(q(&t, "Q4").answer, Answer::Unknown);
    let slow = access("2026-11-21 20:49:09,000", 2.5, 200, path);
    let t = decide(&facts(), Some(&log_of(&slow, &facts(), Some(&h))), None, Some(&h), &subject());
    assert_eq!(q(&t, "Q4").answer, Answer::Yes);
    let fast = access("2026-11-21 20:49:09,000", 0.02, 200, path);
    let t = decide(&facts(), Some(&log_of(&fast, &facts(), Some(&h))), None, Some(&h), &subject());
    assert_eq!((q(&t, "Q4").answer, ke(&t, "KE-4")), (Answer::No, "client_retry"));
    let elsewhere = access("2026-11-22 09:00:00,000", 0.02, 200, path);
    let t = decide(&facts(), Some(&log_of(&elsewhere, &facts(), Some(&h))), None, Some(&h), &subject());
    assert!(q(&t, "Q4").finding.contains("does not cover"));
    // Answered with an error after a short server wait: the time went elsewhere.
    let h = har(vec![har_call(1, path, 502, 2100.0, Some(15.0))]);
    assert_eq!(q(&decide(&facts(), None, None, Some(&h), &subject()), "Q4").answer, Answer::No);
}
