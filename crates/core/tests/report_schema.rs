//! Reports built by the core validate against `schema/report.schema.json`,
//! read back through `Report::from_json`, and carry no secrets.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test's panic is its failure report")]

use crypto_health_core::environment::crypto_store::{assess, StoreFacts, RUST_CRYPTO_DB};
use crypto_health_core::report::{Context, CryptoStore, Estimate, Session, Storage, Versions};
use crypto_health_core::{Config, Journal, Report};
use serde_json::{json, Value};

/// The report as the browser writes it (serde's derives, as everywhere).
fn text_of(r: &Report) -> String {
    serde_json::to_string(r).unwrap()
}

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/report.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validate(report: &Value) -> Result<(), String> {
    let v = jsonschema::draft202012::new(&schema()).map_err(|e| e.to_string())?;
    let errors: Vec<String> = v.iter_errors(report).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

fn full_report() -> Report {
    let mut j = Journal::new(Config { capacity: 10, max_message_bytes: 512 });
    let lines = [
        ("error", "Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"A\",\"signatures\":{}}; new key: {'key': 'B', 'signatures': {}} (http://localhost:8008/_matrix/client/v3/keys/upload?access_token=syt_YWxpY2U_abcdefghijkl_0a1b2c)"),
        ("debug", "FetchHttpApi: <-- POST http://localhost:8008/_matrix/client/v3/keys/upload [65ms 400]"),
        ("warn", "MissingKey: missing key at index 3 for participant @bob:localhost:BOBDEV"),
        ("warn", "Error decrypting event (id=$ev type=m.room.encrypted sender=@b:hs): DecryptionError[msg: missing field `algorithm` at line 1 column 138]"),
        ("warn", "Error decrypting event (id=$ev2 type=m.room.encrypted sender=@b:hs): DecryptionError[msg: unknown index]"),
        ("warn", "[MembershipManager] Network local timeout error while sending event, immediate retry ((3/10))"),
        ("log", &format!("missing key at index 1 for participant @c:hs:D {}", "z".repeat(2000))),
    ];
    for (i, (lvl, l)) in lines.iter().enumerate() {
        assert!(j.observe(lvl, l, 1_795_000_000_000 + i as u64).is_some(), "{l}");
    }
    let facts = StoreFacts {
        session_present: true,
        user_id: Some("@alice:localhost".into()),
        device_id: Some("DEV".into()),
        databases: Some(vec![]),
        store_seen_at: Some(1_794_000_000_000),
        persisted: Some(false),
        checked_at: 1_795_000_000_000,
        store: Default::default(),
    };
    j.add_finding(assess(&facts).unwrap());
    let ctx = Context {
        versions: Versions {
            app: Some("4.12.1".into()),
            sdk: Some("41.7.0".into()),
            crypto: Some("Rust SDK 0.16.0, Vodozemac 0.9.0".into()),
        },
        user_agent: Some("Mozilla/5.0 HeadlessChrome".into()),
        session: Session {
            user_id: Some("@alice:localhost".into()),
            device_id: Some("DEV".into()),
            homeserver: Some("http://localhost:8008".into()),
        },
        sync_state: Some("SYNCING".into()),
        crypto_ready: Some(true),
        storage: Storage {
            status: "not_persisted".into(),
            persisted: Some(false),
            requested: true,
            estimate: Some(Estimate { usage: Some(1234), quota: Some(1_000_000_000) }),
            crypto_store: CryptoStore {
                present: Some(false),
                name: Some(RUST_CRYPTO_DB.to_owned()),
                databases: [(RUST_CRYPTO_DB.to_owned(), false)].into_iter().collect(),
                checked_at: Some("2026-11-21T20:13:37.000Z".into()),
                seen_at: None,
            },
            notes: vec![],
        },
        extra: (json!({"note": "login with {\"password\":\"hunter2\"}", "refresh_token": "syr_abc_defghijklmnop_12345", "nested": [{"access_token": "abc"}]})),
    };
    Report::build(&j, ctx, true, 1_795_000_001_000)
}

#[test]
fn full_report_validates_and_round_trips() {
    let r = full_report();
    let text = text_of(&r);
    let v: Value = serde_json::from_str(&text).unwrap();
    validate(&v).unwrap();
    assert_eq!(Report::from_json(&text).unwrap(), r);
    assert_eq!(Report::from_json(&serde_json::to_string_pretty(&r).unwrap()).unwrap(), r);
    assert_eq!(v["counts"]["KE-1"]["count"], 2);
    assert_eq!(v["counts"]["other"]["count"], 1);
    assert_eq!(v["findings"][0]["level"], "critical");
    assert_eq!(v["entries"].as_array().unwrap().len(), 7);
}

#[test]
fn empty_report_validates() {
    let r = Report::build(&Journal::default(), Context::default(), false, 0);
    let v: Value = serde_json::from_str(&text_of(&r)).unwrap();
    assert_eq!(v["storage"]["status"], "unknown");
    validate(&v).unwrap();
}

#[test]
fn no_secret_survives_into_the_report() {
    let text = text_of(&full_report());
    for secret in ["syt_YWxpY2U", "hunter2", "syr_abc", "\"abc\""] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["redaction"]["total"].as_u64().unwrap() >= 4, "{}", v["redaction"]);
    // Ids an investigation needs (user, device, event, room, key) stay.
    for id in ["@alice:localhost", "AAAAAAAAAA0", "$ev", "@bob:localhost:BOBDEV"] {
        assert!(text.contains(id), "{id} must stay");
    }
}

#[test]
fn schema_rejects_a_broken_report() {
    let mut v = serde_json::to_value(full_report()).unwrap();
    v["entries"][0]["ke"] = json!("KE-9");
    assert!(validate(&v).is_err());
    let mut v = serde_json::to_value(full_report()).unwrap();
    v.as_object_mut().unwrap().remove("counts");
    assert!(validate(&v).is_err());
}

#[test]
fn from_json_errors_are_clear() {
    assert!(Report::from_json("{").unwrap_err().to_string().starts_with("not JSON"));
    assert!(Report::from_json("{}").unwrap_err().to_string().contains("no schemaVersion"));
    assert!(Report::from_json(r#"{"schemaVersion": 99}"#).unwrap_err().to_string().contains("99 is not supported"));
    assert!(Report::from_json(r#"{"schemaVersion": 1}"#).unwrap_err().to_string().contains("does not match"));
}

#[test]
fn report_with_a_storm_over_http_validates_and_round_trips() {
    use crypto_health_core::diagnostics::{DeviceMemory, Exchange};
    use crypto_health_core::otk::health::MonitorConfig;
    use crypto_health_core::Diagnostics;
    let body = r#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"OLD\",\"signatures\":{\"@alice:localhost\":{\"ed25519:DEV\":\"sig\"}}}; new key: {'key': 'NEW', 'signatures': {'@alice:localhost': {'ed25519:DEV': 'sig2'}}}"}"#;
    let upload = r#"{"device_keys":{"user_id":"@alice:localhost","device_id":"DEV","keys":{"ed25519:DEV":"ED2"}},"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":{"key":"NEW"}}}"#;
    let mut d = Diagnostics::default();
    d.console_installed(Config::default());
    d.http_installed(MonitorConfig::default(), false);
    let memory = DeviceMemory {
        ed25519: Some("ED1".into()),
        curve25519: Some("CU1".into()),
        first_seen_at: Some(1_794_000_000_000),
        max_accepted_counter: Some(49),
    };
    d.session_device("@alice:localhost", "DEV", Some(memory));
    for i in 0..4u64 {
        let t = 1_795_000_000_000 + i * 1000;
        d.before_upload(upload, t);
        let ex = Exchange {
            method: "POST",
            url: "http://localhost:8008/_matrix/client/v3/keys/upload",
            status: Some(400),
            status_text: "Bad Request",
            content_type: Some("application/json"),
            duration_ms: 12,
            response_body: Some(body),
            ..Default::default()
        };
        d.exchange(&ex, t + 12);
    }
    let mut r = d.report(Context::default(), 1_795_000_010_000);
    // The breaker's kept 400 is working state, not report content.
    r.otk_health.as_mut().unwrap().state.breaker.kept = None;
    let text = text_of(&r);
    let v: Value = serde_json::from_str(&text).unwrap();
    validate(&v).unwrap();
    assert_eq!(Report::from_json(&text).unwrap(), r);
    assert_eq!(v["otkHealth"]["outcome"], "unrecoverable");
    assert_eq!(v["otkHealth"]["phase"], "storm");
    assert_eq!(v["otkHealth"]["proof"]["counter"], 13);
    assert_eq!(v["otkHealth"]["trigger"]["kind"], "account_recreated");
    assert_eq!(v["http"]["keysUpload"]["byStatus"]["400"], 4);
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["id"] == "device_identity_replaced"));
    // A report from before these sections existed still reads.
    let mut old = v.clone();
    old.as_object_mut().unwrap().remove("otkHealth");
    old.as_object_mut().unwrap().remove("http");
    assert!(Report::from_json(&old.to_string()).unwrap().otk_health.is_none());
}

#[test]
fn tab_guard_section_validates_and_old_reports_still_parse() {
    use crypto_health_core::environment::tab_guard::TabGuard;
    let mut r = full_report();
    r.tab_guard = TabGuard::from_value(
        &(json!({
            "mechanism": "local-storage", "role": "primary", "lockName": "crypto-health:tab-guard:http://127.0.0.1|@alice:localhost|DEV",
            "tabId": "t1", "autoTakeover": true, "takeovers": 1, "stolen": 1, "conflicts": 1,
            "since": 1_795_000_000_500u64, "acquiredTs": 1_795_000_000_000u64, "lastTakeoverTs": 1_795_000_000_500u64,
            "stolenBy": "t2", "events": [{"ts": 1_795_000_000_500u64, "role": "primary", "cause": "takeover", "peer": null}],
            "notes": ["no Web Locks in this browser: using the localStorage lease"],
        })),
    );
    let text = text_of(&r);
    let v: Value = serde_json::from_str(&text).unwrap();
    validate(&v).unwrap();
    assert_eq!(v["tabGuard"]["role"], "primary");
    assert_eq!(Report::from_json(&text).unwrap(), r);

    let mut bad = v.clone();
    bad["tabGuard"]["role"] = json!("emperor");
    assert!(validate(&bad).is_err());

    // A report from before the tab guard existed: valid, and read with the default section.
    let mut old = v;
    old.as_object_mut().unwrap().remove("tabGuard");
    validate(&old).unwrap();
    let back = Report::from_json(&old.to_string()).unwrap();
    assert_eq!(back.tab_guard, TabGuard::default());
}

#[test]
fn decryption_section_validates_and_old_reports_still_parse() {
    use crypto_health_core::evidence::decryption::{Failure, GRACE_PERIOD_MS};
    use crypto_health_core::Diagnostics;
    let mut d = Diagnostics::default();
    d.decryption_watch(true);
    let bad = Failure {
        event_id: "$bad",
        room_id: Some("!r:hs"),
        code: Some("UNKNOWN_ERROR"),
        message: Some("missing field `algorithm`"),
        has_algorithm: Some(false),
    };
    d.decryption_failed(&bad, 1_000);
    d.decryption_failed(
        &Failure { event_id: "$k", room_id: None, code: Some("MEGOLM_KEY_WITHHELD"), message: None, has_algorithm: Some(true) },
        1_000,
    );
    d.decryption_failed(&Failure { event_id: "$late", code: Some("OLM_UNKNOWN_MESSAGE_INDEX"), ..Default::default() }, 1_000);
    d.decrypted("$late", 1_000 + GRACE_PERIOD_MS + 1);
    let r = d.report(Context::default(), 1_000 + GRACE_PERIOD_MS + 2);
    let v: Value = serde_json::from_str(&text_of(&r)).unwrap();
    validate(&v).unwrap();
    assert_eq!(v["decryption"]["causes"]["malformed_event"]["events"][0]["roomId"], "!r:hs");
    assert_eq!(v["decryption"]["lateDecryptions"], 1);
    assert_eq!(Report::from_json(&v.to_string()).unwrap(), r);
    // An unknown cause name or field is refused.
    let mut bad_v = v.clone();
    bad_v["decryption"]["causes"]["made_up"] = bad_v["decryption"]["causes"]["malformed_event"].clone();
    assert!(validate(&bad_v).is_err());
    let mut bad_v = v.clone();
    bad_v["decryption"]["extra"] = json!(1);
    assert!(validate(&bad_v).is_err());
    // Without the section (older reports): valid and read as null.
    let mut old = v;
    old.as_object_mut().unwrap().remove("decryption");
    validate(&old).unwrap();
    assert!(Report::from_json(&old.to_string()).unwrap().decryption.is_none());
}
