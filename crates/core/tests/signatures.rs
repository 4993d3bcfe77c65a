//! Every signature, positive and negative, on texts in the real formats
//! (upstream: element-hq/synapse synapse/handlers/e2e_keys.py, matrix-org/matrix-js-sdk src/models/event.ts and src/matrixrtc/MembershipManager.ts, livekit/client-sdk-js src/e2ee/worker/FrameCryptor.ts). A new row in the table needs a case here.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test's panic is its failure report")]

use crypto_health_core::evidence::signature::{prefilter_needles, SIGNATURES};
use crypto_health_core::{classify, prefilter};
use serde_json::{json, Value};

fn sig(line: &str) -> Option<&'static str> {
    classify(line).map(|c| c.signature.id)
}

fn fields(line: &str) -> Value {
    Value::Object(classify(line).expect(line).fields)
}

const KE1_SYNAPSE: &str = r#"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4","signatures":{"@alice:localhost":{"ed25519:ABCDEFGHIJ":"c2lnMQ"}}}; new key: {'key': 'bq0KZ2mXj7QvUqk1cfF8eWm5cJmWl3gNn7sHh1Rk9Gk', 'signatures': {'@alice:localhost': {'ed25519:ABCDEFGHIJ': 'c2lnMg'}}}"#;

/// Positive cases: (line, signature id, KE class or null).
fn positives() -> Vec<(String, &'static str, Option<&'static str>)> {
    vec![
        (KE1_SYNAPSE.to_string(), "ke1.otk_conflict", Some("KE-1")),
        (format!("Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] {KE1_SYNAPSE} (http://localhost:8008/_matrix/client/v3/keys/upload)"), "ke1.otk_conflict", Some("KE-1")),
        ("FetchHttpApi: <-- POST http://localhost:8008/_matrix/client/v3/keys/upload [65ms 400]".into(), "ke1.keys_upload_400", Some("KE-1")),
        ("MissingKey: missing key at index 3 for participant @bob:localhost:BOBDEVICE".into(), "ke2.missing_key", Some("KE-2")),
        ("missing key at index 0 for participant dGVzdGhhc2g=".into(), "ke2.missing_key", Some("KE-2")),
        ("MissingKey: key set not found for @bob:localhost:BOBDEVICE at index 1".into(), "ke2.key_set_not_found", Some("KE-2")),
        (r#"2026-06-30T20:01:02.123Z WARN matrix_sdk_crypto::machine: Received an unexpected encrypted to-device event sender="@bob:localhost" event_type="io.element.call.encryption_keys""#.into(), "ke2.call_key_delivered", Some("KE-2")),
        ("Error decrypting event (id=$SASBBzoqjAbCdEf type=m.room.encrypted sender=@bob:localhost room=!room:localhost ts=2026-06-30T20:01:02.000Z): DecryptionError[msg: missing field `algorithm` at line 1 column 138, type: m.room.encrypted]".into(), "ke3.missing_algorithm", Some("KE-3")),
        ("Error decrypting event (id=$ev1 type=m.room.encrypted sender=@b:hs), but retrying: DecryptionError[msg: missing field 'algorithm' at line 1 column 12]".into(), "ke3.missing_algorithm", Some("KE-3")),
        ("Error decrypting event (id=$ev2 type=m.room.encrypted sender=@b:hs): DecryptionError[msg: The sender's device has not sent us the keys for this message., session_id: abc]".into(), "decrypt.other", None),
        ("[MembershipManager] Network local timeout error while sending event, immediate retry ((3/10)) AbortError: Restart delayed event timed out before the HS responded".into(), "ke4.local_timeout_retry", Some("KE-4")),
        ("[MembershipManager] Network local timeout error while sending event, retrying in 3s (2/10)".into(), "ke4.local_timeout_retry", Some("KE-4")),
        ("AbortError: Restart delayed event timed out before the HS responded".into(), "ke4.restart_timed_out", Some("KE-4")),
        ("[MembershipManager] Reached maximum (10) retries cause by: AbortError: Restart delayed event timed out before the HS responded".into(), "ke4.max_retries", Some("KE-4")),
        ("error updating delayed event: Error: timed out".into(), "ke4.widget_update_failed", Some("KE-4")),
    ]
}

/// Lines that mention the same words but are not these failures.
const NEGATIVES: &[&str] = &[
    "Room alias #general:localhost already exists",
    "M_USER_IN_USE: User ID already taken.",
    "Backup version already exists on the server",
    "Key backup already exists: not creating a new one",
    "Sending delayed event for membership",
    "[MembershipManager] delayed event scheduled: syd_abc",
    "Received to-device event io.element.call.encryption_keys from @bob:hs",
    "DecryptionError is a class name",
    "Sync connection lost; retrying",
    "FetchHttpApi: <-- POST http://localhost:8008/_matrix/client/v3/keys/upload [65ms 200]",
    "FetchHttpApi: --> POST http://localhost:8008/_matrix/client/v3/keys/upload",
    "",
];

#[test]
fn every_positive_case_matches_its_row() {
    for (line, id, ke) in positives() {
        let c = classify(&line).unwrap_or_else(|| panic!("no match: {line}"));
        assert_eq!(c.signature.id, id, "{line}");
        assert_eq!(c.signature.class.ke(), ke, "{line}");
        assert!(prefilter(&line), "prefilter must pass a matching line: {line}");
    }
}

#[test]
fn every_row_has_a_positive_case() {
    let cases = positives();
    for s in SIGNATURES {
        assert!(cases.iter().any(|(_, id, _)| *id == s.id), "signature {} has no test case", s.id);
    }
}

#[test]
fn negatives_match_nothing() {
    for line in NEGATIVES {
        assert_eq!(sig(line), None, "{line}");
    }
}

#[test]
fn ke1_fields() {
    let f = fields(&format!("Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] {KE1_SYNAPSE} (http://localhost:8008/_matrix/client/v3/keys/upload)"));
    assert_eq!(f["algorithm"], "signed_curve25519");
    assert_eq!(f["key_id"], "AAAAAAAAAA0");
    assert_eq!(f["key_id_scheme"], "vodozemac");
    assert_eq!(f["counter"], 13);
    assert_eq!(f["old_key"]["key"], "Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4");
    assert_eq!(f["new_key"]["key"], "bq0KZ2mXj7QvUqk1cfF8eWm5cJmWl3gNn7sHh1Rk9Gk");
    assert_eq!(f["diverged"], true);
    assert_eq!(f["status"], 400);
}

#[test]
fn http_line_fields() {
    let f = fields("FetchHttpApi: <-- POST http://localhost:8008/_matrix/client/v3/keys/upload [65ms 400]");
    assert_eq!(f, json!({"method":"POST","endpoint":"/_matrix/client/v3/keys/upload","duration_ms":65,"status":400}));
}

#[test]
fn ke2_fields() {
    let f = fields("MissingKey: missing key at index 3 for participant @bob:localhost:BOBDEVICE");
    assert_eq!(f, json!({"index":3,"participant":"@bob:localhost:BOBDEVICE","user_id":"@bob:localhost","device_id":"BOBDEVICE"}));
    let f = fields("key set not found for dGVzdGhhc2g= at index 7");
    assert_eq!(f, json!({"index":7,"participant":"dGVzdGhhc2g="}));
    let f = fields(
        r#"WARN Received an unexpected encrypted to-device event sender="@bob:localhost" event_type="io.element.call.encryption_keys""#,
    );
    assert_eq!(f["sender"], "@bob:localhost");
}

#[test]
fn ke3_fields() {
    let f = fields("Error decrypting event (id=$SASBBzoqjAbCdEf type=m.room.encrypted sender=@bob:localhost room=!room:localhost): DecryptionError[msg: missing field `algorithm` at line 1 column 138]");
    assert_eq!(f["event_id"], "$SASBBzoqjAbCdEf");
    assert_eq!(f["room_id"], "!room:localhost");
    assert_eq!(f["missing_field"], "algorithm");
    assert_eq!((f["line"].clone(), f["column"].clone()), (json!(1), json!(138)));
    assert_eq!(f["retrying"], false);
    // Older js-sdk: `(id=$ev: err), but retrying`.
    let f = fields("Got error decrypting event (id=$old: DecryptionError[msg: missing field `algorithm`]), but retrying");
    assert_eq!(f["event_id"], "$old");
    assert_eq!(f["retrying"], true);
}

#[test]
fn ke4_fields() {
    let f = fields("[MembershipManager] Network local timeout error while sending event, immediate retry ((3/10))");
    assert_eq!((f["attempt"].clone(), f["max"].clone(), f["immediate"].clone()), (json!(3), json!(10), json!(true)));
    let f = fields("Network local timeout error while sending event, retrying in 3s (2/10)");
    assert_eq!(f["retry_delay_s"], 3);
    let f = fields("[MembershipManager] Reached maximum (10) retries cause by: AbortError: Restart delayed event timed out");
    assert_eq!(f["max"], 10);
    assert_eq!(f["cause"], "AbortError: Restart delayed event timed out");
}

#[test]
fn multi_line_messages_are_one_message() {
    let line = "2026-06-30T20:01:02Z WARN matrix_sdk_crypto::machine: Received an unexpected encrypted to-device event\n    sender=\"@bob:hs\"\n    event_type=\"io.element.call.encryption_keys\"\n  at crates/matrix-sdk-crypto/src/machine.rs:1234";
    let f = fields(line);
    assert_eq!(f["event_type"], "io.element.call.encryption_keys");
}

#[test]
fn needles_cover_every_row() {
    let needles = prefilter_needles();
    for s in SIGNATURES {
        assert!(needles.iter().any(|n| s.all[0].contains(n)), "{} not covered", s.id);
    }
}
