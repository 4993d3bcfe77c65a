//! Every branch of the triage's decision tree that needs no log parser and no signature check,
//! on facts built in place (no files, no server). The rest run in the CLI over its log parser
//! and vodozemac (crates/cli/src/triage/tests.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crypto_health_core::otk::conflict::OtkConflict;
use crypto_health_core::otk::key_id::IdScheme;
use crypto_health_core::triage::facts::{
    Call, DbFacts, EventRow, FallbackRow, Har, OtkRow, PeerDevice, ReportFacts, Sighting, Undecryptable, UndecryptablePeer,
    UnreachablePeer, Upload,
};
use crypto_health_core::triage::forensics::{Candidate, SignatureCheck, SignatureError};
use crypto_health_core::triage::model::{Answer, Question};
use crypto_health_core::triage::proof::Proof;
use crypto_health_core::triage::remediations::ranked as remediations;
use crypto_health_core::triage::{quote, Inputs, Subject, Triage, QUOTE_MAX};
use serde_json::{json, Map, Value};

const U: &str = "@a:hs";
const D: &str = "DEV";
const T: u64 = 1_795_294_148_000; // 2026-11-21 20:49:08 UTC

/// No identity ever verifies: these tests give no identity key, so the forensics are skipped.
struct NoSignatures;

impl SignatureCheck for NoSignatures {
    fn signers(&self, _: &[u8], _: &str, _: &[Candidate]) -> Result<Vec<String>, SignatureError> {
        Ok(Vec::new())
    }
}

fn decide(r: &ReportFacts, db: Option<&DbFacts>, har: Option<&Har>, s: &Subject) -> Triage {
    crypto_health_core::triage::decide(&Inputs { report: r, log: None, db, har, subject: s, signatures: &NoSignatures })
}

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

fn q<'a>(t: &'a Triage, id: &str) -> &'a Question {
    t.questions.iter().find(|x| x.id == id).unwrap()
}

fn ke(t: &Triage, k: &str) -> &'static str {
    t.conclusions.iter().find(|c| c.ke == k).unwrap().status
}

fn first_safe(t: &Triage) -> Vec<&'static str> {
    t.remediations.iter().filter(|r| r.first_safe).map(|r| r.id).collect()
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

#[test]
fn q1_db_row_differs_same_or_gone() {
    let mut r = facts();
    r.ke1.push(proof(Some(true), Some(json!({"key": "NEW", "signatures": {}}))));
    let differs = decide(&r, Some(&db(vec![otk("AAAAAAAAAA0", r#"{"key":"OLD"}"#)])), None, &subject());
    assert_eq!(q(&differs, "Q1").answer, Answer::Yes);
    assert!(q(&differs, "Q1").finding.contains("CONFIRMED"));
    assert_eq!(ke(&differs, "KE-1"), "confirmed");
    assert_eq!(first_safe(&differs), vec!["device_relogin"]);
    assert!(differs.prevention.iter().any(|p| p.contains("installHttpTap")));

    // Same value (signatures aside): no divergence now.
    let same = decide(&r, Some(&db(vec![otk("AAAAAAAAAA0", r#"{"key":"NEW","signatures":{"x":{}}}"#)])), None, &subject());
    assert_eq!(q(&same, "Q1").answer, Answer::No);
    assert!(q(&same, "Q1").finding.contains("same value"));
    assert!(q(&same, "Q1").finding.contains("OTKs are not exhausted"), "{}", q(&same, "Q1").finding);
    assert!(first_safe(&same).is_empty());

    // The row is gone (claimed since).
    let gone = decide(&r, Some(&db(vec![otk("AAAAAAAAAAE", "{}")])), None, &subject());
    assert_eq!(q(&gone, "Q1").answer, Answer::No);
    assert!(q(&gone, "Q1").finding.contains("no longer on the server"));
    assert_eq!(ke(&gone, "KE-1"), "excluded");

    // Stored row but the client's key unknown: Synapse only rejects differing values.
    let mut cut = facts();
    cut.ke1.push(proof(None, None));
    let t = decide(&cut, Some(&db(vec![otk("AAAAAAAAAA0", r#"{"key":"OLD"}"#)])), None, &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Yes);
    assert!(!q(&t, "Q1").to_settle.is_empty());
}

#[test]
fn q1_from_the_400_alone() {
    let mut r = facts();
    r.ke1.push(proof(Some(true), Some(json!({"key": "NEW"}))));
    let t = decide(&r, None, None, &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Yes);
    assert!(q(&t, "Q1").to_settle[0].starts_with("--synapse-db"));
    // A database but no subject: the ids are what would settle it.
    let t = decide(&r, Some(&db(vec![])), None, &no_subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Yes);
    assert!(q(&t, "Q1").to_settle.iter().any(|s| s.contains("--user/--device")));
    assert!(q(&t, "Q1").to_settle.iter().any(|s| s.contains("no session user/device")));

    let mut r = facts();
    r.ke1.push(proof(Some(false), Some(json!({"key": "OLD"}))));
    assert_eq!(q(&decide(&r, None, None, &subject()), "Q1").answer, Answer::No);

    let mut r = facts();
    r.ke1.push(proof(None, None));
    let t = decide(&r, None, None, &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Unknown);
    assert_eq!(q(&t, "Q1").to_settle.len(), 2);
    assert_eq!(ke(&t, "KE-1"), "unknown");
    assert!(first_safe(&t).is_empty());
}

#[test]
fn q1_from_a_har() {
    let ok = Har { file: "c.har".into(), uploads: vec![har_upload(200)], ..Default::default() };
    let t = decide(&facts(), None, Some(&ok), &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::No);
    assert!(q(&t, "Q1").evidence.iter().any(|e| e.source == "har entries[0]"));
    let bad = Har { file: "c.har".into(), uploads: vec![har_upload(400)], ..Default::default() };
    assert_eq!(q(&decide(&facts(), None, Some(&bad), &subject()), "Q1").answer, Answer::Unknown);
}

#[test]
fn exhaustion_sub_check() {
    let mut r = facts();
    r.capture_installed = true;
    r.counts.push(("KE-1".into(), 0, 0));
    let fb = |used| Some(vec![FallbackRow { algorithm: "signed_curve25519".into(), key_id: "F".into(), used }]);
    let mut d = db(vec![]);
    d.fallback = fb(true);
    let t = decide(&r, Some(&d), None, &subject());
    assert_eq!(q(&t, "Q1").details["exhaustion"], "yes");
    assert!(q(&t, "Q1").finding.contains("OTK EXHAUSTION"));
    assert!(t.conclusions[0].summary.contains("exhausted"));
    d.fallback = fb(false);
    assert_eq!(q(&decide(&r, Some(&d), None, &subject()), "Q1").details["exhaustion"], "unknown");
    let d = db(vec![otk("K", "{}")]);
    assert_eq!(q(&decide(&r, Some(&d), None, &subject()), "Q1").details["exhaustion"], "no");
    assert_eq!(q(&decide(&r, None, None, &subject()), "Q1").details["exhaustion"], "unknown");
}

#[test]
fn ke1_causes_without_forensics() {
    let with = |f: &dyn Fn(&mut ReportFacts)| {
        let mut r = facts();
        r.ke1.push(proof(Some(true), Some(json!({"key": "NEW"}))));
        f(&mut r);
        decide(&r, None, None, &subject()).conclusions[0].summary.clone()
    };
    assert!(with(&|r| r.otk_health = Some(json!({"trigger": {"kind": "account_recreated"}}))).contains("otkHealth.trigger"));
    assert!(with(&|r| r.findings.push(("crypto_store_missing".into(), "x".into()))).contains("eviction"));
    assert!(with(&|_| {}).contains("counter 13"));
    assert!(with(&|r| r.ke1[0].conflict.counter = Some(5000)).contains("not established"));
    let mut r = facts();
    r.persisted = Some(false);
    assert!(decide(&r, None, None, &subject()).prevention.iter().any(|p| p.contains("persist()")));
}

#[test]
fn q2_reads_missing_call_keys_from_the_call_section() {
    let mut r = facts();
    r.call_delivered.push("@b:hs:BOB".into());
    r.call_sent_to.push("@b:hs:BOB".into());
    let t = decide(&r, None, None, &subject());
    assert_eq!((q(&t, "Q2").answer, q(&t, "Q2").finding.as_str()), (Answer::Yes, "call keys reach the device"));
    r.call_missing.push("@c:hs:CAROL".into());
    let t = decide(&r, None, None, &subject());
    assert_eq!(q(&t, "Q2").answer, Answer::No);
    assert!(q(&t, "Q2").finding.contains("missing keys for participant(s) @c:hs:CAROL"), "{}", q(&t, "Q2").finding);
    assert!(q(&t, "Q2").evidence.iter().any(|e| e.source == "report call.participants" && e.text.contains("missing keys for @c:hs:CAROL")));
    assert_eq!(q(&t, "Q2").details["missingKeysFor"][0], "@c:hs:CAROL");
}

#[test]
fn discriminator_6_4() {
    let missing = || sighting("MissingKey", json!({}));
    assert_eq!(q(&decide(&facts(), None, None, &subject()), "6.4").details["applicable"], false);
    // KE-1 present: the chain stands.
    let mut r = facts();
    r.ke2_missing.push(missing());
    r.ke1.push(proof(Some(true), Some(json!({"key": "NEW"}))));
    assert_eq!(q(&decide(&r, None, None, &subject()), "6.4").answer, Answer::No);
    // Q1 = no with healthy counts: the to-device validation path.
    let mut r = facts();
    r.ke2_missing.push(missing());
    r.capture_installed = true;
    r.counts.push(("KE-1".into(), 0, 0));
    let t = decide(&r, Some(&db(vec![otk("K", "{}")])), None, &subject());
    assert_eq!(q(&t, "6.4").answer, Answer::Yes);
    assert_eq!(ke(&t, "KE-2"), "independent");
    // Q1 = no, count unknown.
    assert_eq!(q(&decide(&r, None, None, &subject()), "6.4").answer, Answer::Unknown);
    // Q1 unknown.
    let mut r = facts();
    r.ke2_missing.push(missing());
    assert_eq!(q(&decide(&r, None, None, &subject()), "6.4").to_settle, vec!["settle Q1 first".to_string()]);
}

#[test]
fn remediations_and_notes() {
    let none = remediations(Answer::No, None);
    assert!(none.iter().all(|r| !r.applies && !r.first_safe));
    assert!(none[3].why.contains("never speculatively"));
    let yes = remediations(Answer::Yes, None);
    assert_eq!((yes[0].applies, yes[0].first_safe, yes[1].applies, yes[1].first_safe), (true, true, true, false));
    assert!(!yes[3].applies && !yes[3].guardrails.is_empty());
    assert_eq!(yes.iter().map(|r| r.rank).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    let mut d = db(vec![]);
    d.missing = vec!["device_inbox".into()];
    let t = decide(&facts(), Some(&d), None, &subject());
    assert!(t.notes[0].contains("`device_inbox`"));
    assert_eq!(t.questions.iter().map(|q| q.id).collect::<Vec<_>>(), vec!["Q1", "Q2", "Q3", "Q4", "6.4"]);
}

#[test]
fn quotes_are_cut_on_a_char_boundary() {
    let long = "é".repeat(QUOTE_MAX);
    let q = quote(&long);
    assert!(q.contains("more bytes]") && q.len() < long.len());
    assert_eq!(quote("short"), "short");
}

#[test]
fn q3_reads_the_decryption_section() {
    // KE-3 among the UTD causes: the event and room come from the section; the database settles it.
    let (report, raw) = utd_report(true);
    let r = crypto_health_core::triage::facts::report::extract(&report, &raw);
    assert_eq!(r.ke3.len(), 1);
    assert_eq!(r.ke3[0].source, "report decryption.causes.malformed_event.events[0]");
    let mut d = db(vec![]);
    d.event = Some(Some(EventRow {
        event_type: Some("m.room.encrypted".into()),
        sender: Some("@b:hs".into()),
        room_id: "!r:hs".into(),
        json: r#"{"content":{"ciphertext":"x"}}"#.into(),
    }));
    let t = decide(&r, Some(&d), None, &subject());
    let q3 = q(&t, "Q3");
    assert_eq!((q3.answer, ke(&t, "KE-3")), (Answer::Yes, "data_problem"));
    assert_eq!((q3.details["eventId"].as_str(), q3.details["roomId"].as_str()), (Some("$bad"), Some("!r:hs")));
    assert!(q3.finding.contains("$bad") && q3.finding.contains("!r:hs") && q3.finding.contains("data problem"), "{}", q3.finding);
    assert_eq!(q3.details["keyProblems"], 2);
    assert_eq!(q3.details["utdCauses"]["malformed_event"]["kind"], "data");
    assert!(q3.evidence.iter().any(|e| e.source.starts_with("report decryption.causes.malformed_event")));
    // Without a database: the room is still named from the report, the answer waits for the database.
    let t = decide(&r, None, None, &subject());
    assert_eq!((q(&t, "Q3").answer, q(&t, "Q3").details["roomId"].as_str()), (Answer::Unknown, Some("!r:hs")));
    // Only key problems: not applicable, and the finding says they are key problems.
    let (report, raw) = utd_report(false);
    let r = crypto_health_core::triage::facts::report::extract(&report, &raw);
    assert!(r.ke3.is_empty());
    let t = decide(&r, None, None, &subject());
    let q3 = q(&t, "Q3");
    assert_eq!((q3.details["applicable"].as_bool(), ke(&t, "KE-3")), (Some(false), "not_seen"));
    assert!(
        q3.finding.contains("2 undecryptable event(s) are key or trust problems") && q3.finding.contains("sent_before_we_joined: 1"),
        "{}",
        q3.finding
    );
    // A report without the section reads as before.
    let mut raw = raw;
    raw.as_object_mut().unwrap().remove("decryption");
    let old = crypto_health_core::Report::from_json(&raw.to_string()).unwrap();
    let r = crypto_health_core::triage::facts::report::extract(&old, &raw);
    assert!(r.utd.is_none() && r.ke3.is_empty());
}

fn utd_report(with_ke3: bool) -> (crypto_health_core::Report, Value) {
    use crypto_health_core::evidence::decryption::{Failure, GRACE_PERIOD_MS};
    let mut d = crypto_health_core::Diagnostics::default();
    d.decryption_watch(true);
    if with_ke3 {
        let f = Failure {
            event_id: "$bad",
            room_id: Some("!r:hs"),
            code: Some("UNKNOWN_ERROR"),
            message: Some("missing field `algorithm`"),
            has_algorithm: Some(false),
        };
        d.decryption_failed(&f, T);
    }
    d.decryption_failed(
        &Failure { event_id: "$k1", room_id: Some("!r:hs"), code: Some("MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), ..Default::default() },
        T,
    );
    d.decryption_failed(
        &Failure { event_id: "$k2", room_id: Some("!r:hs"), code: Some("HISTORICAL_MESSAGE_USER_NOT_JOINED"), ..Default::default() },
        T,
    );
    let r = d.report(crypto_health_core::Context::default(), T + GRACE_PERIOD_MS);
    let raw = serde_json::to_value(&r).unwrap();
    (r, raw)
}

fn har_upload(status: u16) -> Upload {
    Upload {
        call: har_call(0, "/_matrix/client/v3/keys/upload", status, 10.0, Some(9.0)),
        otk_ids: vec![],
        conflict: None,
        request_key: None,
        error_text: None,
    }
}

// ------------------------------------------------------------------------ Q2: KE-1 ⇒ KE-2

/// Signatures made of the signer's key: `signature == ed25519` verifies, nothing else does.
struct KeyIsSignature;

impl SignatureCheck for KeyIsSignature {
    fn signers(&self, _: &[u8], signature: &str, candidates: &[Candidate]) -> Result<Vec<String>, SignatureError> {
        Ok(candidates.iter().filter(|c| c.ed25519 == signature).map(|c| c.label.clone()).collect())
    }
}

fn decide_signed(r: &ReportFacts, db: Option<&DbFacts>, s: &Subject) -> Triage {
    crypto_health_core::triage::decide(&Inputs { report: r, log: None, db, har: None, subject: s, signatures: &KeyIsSignature })
}

/// A one-time key of `user`'s `device`, signed by `ed25519`.
fn signed_otk(id: &str, user: &str, device: &str, ed25519: &str) -> OtkRow {
    otk(id, &json!({"key": format!("K{id}"), "signatures": {user: {format!("ed25519:{device}"): ed25519}}}).to_string())
}

/// The report of the device that cannot hear: alice's and carol's call keys went to OLDC.
fn undecryptable() -> Undecryptable {
    let peer =
        |u: &str, m: &str| UndecryptablePeer { user_id: u.into(), events: 1, msgids: vec![m.into()], encrypted_for: vec!["OLDC".into()] };
    Undecryptable {
        source: "report findings (call_keys_undecryptable)".into(),
        peers: vec![peer("@alice:hs", "m1"), peer("@carol:hs", "m2")],
        previous_curve25519: Some("OLDC".into()),
        current_curve25519: Some("NEWC".into()),
        identity_replaced: Some(true),
        encrypted_for_previous: Some(true),
        otk_conflict_key_id: Some("AAAAAAAAAA0".into()),
    }
}

/// The server after the reset: the new identity advertised, a one-time key of the old one left.
fn db_after_reset() -> DbFacts {
    let mut d = db(vec![otk("AAAAAAAAAA0", r#"{"key":"OLD"}"#), signed_otk("AAAAAAAAAAB", U, D, "OLDED")]);
    d.device_keys = Some(Some(json!({"keys": {format!("curve25519:{D}"): "NEWC", format!("ed25519:{D}"): "NEWED"}})));
    d
}

fn sources(q: &Question) -> Vec<&str> {
    q.evidence.iter().map(|e| e.source.as_str()).collect()
}

#[test]
fn q2_links_undecryptable_call_keys_to_ke1_with_report_and_db_evidence() {
    let mut r = facts();
    r.ke1.push(proof(Some(true), Some(json!({"key": "NEW", "signatures": {}}))));
    r.undecryptable = Some(undecryptable());
    let t = decide_signed(&r, Some(&db_after_reset()), &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Yes);
    let q2 = q(&t, "Q2");
    assert_eq!(q2.answer, Answer::Yes);
    assert!(q2.finding.contains("KE-1 ⇒ KE-2 link confirmed") && q2.finding.contains("@alice:hs, @carol:hs"), "{}", q2.finding);
    assert!(q2.finding.contains("2 to-device message(s)") && q2.finding.contains("OLDC"), "{}", q2.finding);
    let by = |s: &str| q2.evidence.iter().find(|e| e.source == s).unwrap_or_else(|| panic!("no {s} in {:?}", sources(q2)));
    let report = by("report findings (call_keys_undecryptable)");
    assert!(
        report.text.contains("@alice:hs (1 event(s), msgid m1)") && report.text.contains("not for this device's current key NEWC"),
        "{}",
        report.text
    );
    assert!(by("report findings (call_keys_undecryptable) evidence.ke1").text.contains("one-time-key conflict on AAAAAAAAAA0"));
    let keys = by("db test.db e2e_device_keys_json");
    assert!(keys.text.contains("curve25519:DEV = NEWC (the report's current identity), not OLDC"), "{}", keys.text);
    let otks = by("db test.db e2e_one_time_keys_json");
    assert!(otks.text.starts_with("0 of 1 signed_curve25519") && otks.text.contains("NEWED"), "{}", otks.text);
    assert_eq!(q2.details["undecryptable"]["serverCurve25519"], "NEWC");
    assert_eq!(q2.details["undecryptable"]["encryptedFor"], json!(["OLDC"]));
    assert_eq!(ke(&t, "KE-2"), "linked_to_ke1");
    assert!(q2.to_settle.is_empty(), "{:?}", q2.to_settle);

    // The server still advertising the lost key is said as such (the device lost its private key).
    let mut same = db_after_reset();
    same.device_keys = Some(Some(json!({"keys": {format!("curve25519:{D}"): "OLDC", format!("ed25519:{D}"): "OLDED"}})));
    let t = decide_signed(&r, Some(&same), &subject());
    let q2 = q(&t, "Q2");
    assert!(q2.evidence.iter().any(|e| e.text.contains("still advertises curve25519:DEV = OLDC")), "{:?}", q2.evidence);
    assert!(q2.evidence.iter().any(|e| e.text.starts_with("1 of 1 signed_curve25519")), "{:?}", q2.evidence);

    // Without the database: still the link (Q1 from the report's 400), the database to settle.
    let t = decide_signed(&r, None, &subject());
    assert_eq!(q(&t, "Q2").answer, Answer::Yes);
    assert!(q(&t, "Q2").to_settle.iter().any(|s| s.contains("e2e_device_keys_json")));
}

#[test]
fn q2_undecryptable_keys_without_ke1_are_not_a_link() {
    // The same KE-2 evidence, but nothing settles Q1: no link, and no "link" word for the conclusion.
    let mut r = facts();
    r.undecryptable = Some(undecryptable());
    let t = decide_signed(&r, None, &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Unknown);
    let q2 = q(&t, "Q2");
    assert_eq!(q2.answer, Answer::Unknown);
    assert!(!q2.finding.contains("link") && q2.finding.contains("KE-1 is not confirmed"), "{}", q2.finding);
    assert!(q2.to_settle.iter().any(|s| s.contains("settle Q1")));
    assert_eq!(ke(&t, "KE-2"), "unknown");
    // A finding without peers is no evidence.
    r.undecryptable = Some(Undecryptable { peers: vec![], ..undecryptable() });
    assert_ne!(q(&decide_signed(&r, None, &subject()), "Q2").answer, Answer::Yes);
}

#[test]
fn q2_healthy_report_is_no_link_even_with_ke1() {
    // Keys that arrived and decrypted, no undecryptable event: call keys reach the device.
    let mut healthy = facts();
    healthy.capture_installed = true;
    healthy.counts.push(("KE-1".into(), 0, 0));
    healthy.ke2_delivered.push(sighting("Received an unexpected encrypted to-device event io.element.call.encryption_keys", json!({})));
    let t = decide_signed(&healthy, Some(&db_after_reset()), &subject());
    let q2 = q(&t, "Q2");
    assert_eq!((q2.answer, q2.finding.as_str()), (Answer::Yes, "call keys reach the device"));
    assert_eq!(ke(&t, "KE-2"), "not_seen");
    // KE-1 confirmed but no KE-2 evidence at all: Q2 does not invent a link.
    let mut r = facts();
    r.ke1.push(proof(Some(true), Some(json!({"key": "NEW", "signatures": {}}))));
    let t = decide_signed(&r, Some(&db_after_reset()), &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Yes);
    assert_ne!(q(&t, "Q2").answer, Answer::Yes);
    assert!(!q(&t, "Q2").finding.contains("link"), "{}", q(&t, "Q2").finding);
    assert_eq!(ke(&t, "KE-2"), "not_seen");
}

#[test]
fn q2_names_the_peer_device_this_one_cannot_reach() {
    let mut r = facts();
    r.ke2_delivered.push(sighting("Received an unexpected encrypted to-device event io.element.call.encryption_keys", json!({})));
    r.unreachable.push(UnreachablePeer {
        source: "report findings (peer_unreachable)".into(),
        user_id: "@bob:hs".into(),
        device_id: Some("BOBDEV".into()),
        lines: 1,
    });
    let mut d = db(vec![]);
    d.peers.push(PeerDevice {
        user_id: "@bob:hs".into(),
        device_id: "BOBDEV".into(),
        device_keys: Some(json!({"keys": {"curve25519:BOBDEV": "BOBNEWC", "ed25519:BOBDEV": "BOBNEWED"}})),
        otks: Some(vec![
            signed_otk("AAAAAAAAAAA", "@bob:hs", "BOBDEV", "BOBOLDED"),
            signed_otk("AAAAAAAAAAB", "@bob:hs", "BOBDEV", "BOBOLDED"),
        ]),
    });
    let t = decide_signed(&r, Some(&d), &subject());
    let q2 = q(&t, "Q2");
    assert!(
        q2.finding.starts_with("call keys reach the device; this device cannot reach @bob:hs (BOBDEV): evidence about that other device"),
        "{}",
        q2.finding
    );
    let report = q2.evidence.iter().find(|e| e.source == "report findings (peer_unreachable)").unwrap();
    assert!(
        report.text.contains("@bob:hs (BOBDEV)") && report.text.contains("evidence about that other device, not this one"),
        "{}",
        report.text
    );
    let keys =
        q2.evidence.iter().find(|e| e.source == "db test.db e2e_device_keys_json (@bob:hs (BOBDEV))").expect("the peer's device keys");
    assert!(keys.text.contains("BOBNEWC") && keys.text.contains("BOBNEWED"));
    let otks =
        q2.evidence.iter().find(|e| e.source == "db test.db e2e_one_time_keys_json (@bob:hs (BOBDEV))").expect("the peer's one-time keys");
    assert!(otks.text.starts_with("0 of 2 signed_curve25519") && otks.text.contains("builds no Olm session"), "{}", otks.text);
    assert!(q2.to_settle.iter().any(|s| s.contains("--user @bob:hs --device BOBDEV")), "{:?}", q2.to_settle);
    assert_eq!(q2.details["unreachablePeers"], json!([{"userId": "@bob:hs", "deviceId": "BOBDEV"}]));
    assert_eq!(ke(&t, "KE-2"), "peer_device");
    // Not about this device: no KE-1 ⇒ KE-2 link for it.
    assert!(!q2.finding.contains("link"));
    // The report alone still names the device.
    let t = decide_signed(&r, None, &subject());
    assert!(q(&t, "Q2").finding.contains("cannot reach @bob:hs (BOBDEV)"));
}

#[test]
fn peer_key_findings_are_read_from_the_report() {
    let (_, mut raw) = utd_report(false);
    raw["findings"] = json!([
        {"id": "call_keys_undecryptable", "ke": "KE-2", "level": "critical", "title": "t", "detail": "d", "ts": T, "at": "x",
         "evidence": {"peers": [{"userId": "@alice:hs", "events": 2, "msgids": ["m1", "m2"]}],
                      "ke1": {"previousCurve25519": "OLDC", "currentCurve25519": "NEWC", "identityReplaced": true, "encryptedForPreviousIdentity": true, "otkConflictKeyId": "AAAAAAAAAA8"}}},
        {"id": "peer_unreachable", "ke": "KE-2", "level": "warning", "title": "t", "detail": "d", "ts": T, "at": "x",
         "evidence": {"userId": "@bob:hs", "deviceId": "BOBDEV", "lines": 1, "about": "peer"}}
    ]);
    let peer = |u: &str, to: &[&str]| {
        json!({"userId": u, "deviceId": null, "senderKey": "S", "incoming": "undecryptable", "outgoing": "unknown", "olmForUs": 0, "olmNotForUs": 1,
        "encryptedFor": to, "msgids": [], "callKeysArrived": 0, "missingCiphertextLines": 0, "unreachableLines": 0, "identityRefusedLines": 0})
    };
    raw["call"] = json!({"messages": 0, "unreadable": 0, "widgetIds": [], "own": null, "participants": [], "delayedEvents": {}, "pending": 0,
        "peers": [peer("@alice:hs", &["OLDC"]), peer("@alice:hs", &["OLDC", "OLDER"]), peer("@carol:hs", &["X"])]});
    let report = crypto_health_core::Report::from_json(&raw.to_string()).unwrap();
    let f = crypto_health_core::triage::facts::report::extract(&report, &raw);
    let u = f.undecryptable.expect("call_keys_undecryptable read");
    assert_eq!(u.peers.len(), 1);
    assert_eq!((u.peers[0].user_id.as_str(), u.peers[0].events, u.peers[0].msgids.len()), ("@alice:hs", 2, 2));
    assert_eq!(u.peers[0].encrypted_for, ["OLDC", "OLDER"], "both of alice's entries, once each; not carol's");
    assert_eq!((u.previous_curve25519.as_deref(), u.current_curve25519.as_deref()), (Some("OLDC"), Some("NEWC")));
    assert_eq!((u.identity_replaced, u.otk_conflict_key_id.as_deref()), (Some(true), Some("AAAAAAAAAA8")));
    assert_eq!(u.lost_keys(), ["OLDC", "OLDER"]);
    assert_eq!(f.unreachable.len(), 1);
    assert_eq!(
        (f.unreachable[0].user_id.as_str(), f.unreachable[0].device_id.as_deref(), f.unreachable[0].lines),
        ("@bob:hs", Some("BOBDEV"), 1)
    );
}

#[test]
fn q1_reads_the_conflict_still_standing_when_the_first_was_claimed() {
    // The first 400 named AAAAAAAAAA0; a peer claimed it since; a later 400 named AAAAAAAAAA8,
    // still stored with another value: that one decides Q1, and a note says why.
    let mut r = facts();
    r.ke1.push(proof(Some(true), Some(json!({"key": "NEW"}))));
    let mut later = proof(Some(true), Some(json!({"key": "NEW8"})));
    later.conflict.key_id = "AAAAAAAAAA8".into();
    later.source = "report otkHealth.proof".into();
    r.ke1.push(later);
    let t = decide(&r, Some(&db(vec![otk("AAAAAAAAAA8", r#"{"key":"OLD8"}"#)])), None, &subject());
    assert_eq!(q(&t, "Q1").answer, Answer::Yes, "{}", q(&t, "Q1").finding);
    assert_eq!(q(&t, "Q1").details["keyId"], "AAAAAAAAAA8");
    assert!(t.notes.iter().any(|n| n.contains("signed_curve25519:AAAAAAAAAA0") && n.contains("claimed since")), "{:?}", t.notes);
    // Neither stored: the first proof stays, and Q1 says it is gone.
    let t = decide(&r, Some(&db(vec![otk("AAAAAAAAAAE", "{}")])), None, &subject());
    assert_eq!((q(&t, "Q1").answer, &q(&t, "Q1").details["keyId"]), (Answer::No, &json!("AAAAAAAAAA0")));
    // The first still stored: it stays.
    let t = decide(&r, Some(&db(vec![otk("AAAAAAAAAA0", r#"{"key":"OLD"}"#), otk("AAAAAAAAAA8", r#"{"key":"OLD8"}"#)])), None, &subject());
    assert_eq!(q(&t, "Q1").details["keyId"], "AAAAAAAAAA0");
    assert!(!t.notes.iter().any(|n| n.contains("claimed since")), "{:?}", t.notes);
}
