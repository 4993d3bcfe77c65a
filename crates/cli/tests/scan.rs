//! `crypto-health scan` and `triage --har` end to end on files (the real-Synapse runs are the e2e
//! scenarios scan_server, triage_postgres and triage_har).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("crypto-health-scan-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crypto-health")).args(args).output().unwrap()
}

fn json_of(o: &Output) -> Value {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn conflict(ts: &str, req: usize, user: &str, dev: &str, key: &str) -> String {
    format!(
        "{ts},000 - synapse.http.server - 132 - INFO - POST-{req} - SynapseError: 400 - One time key signed_curve25519:{key} already exists. Old key: {{\"key\":\"OLD\",\"signatures\":{{\"{user}\":{{\"ed25519:{dev}\":\"s1\"}}}}}}; new key: {{'key': 'NEW', 'signatures': {{'{user}': {{'ed25519:{dev}': 's2'}}}}}}\n\
         {ts},001 - synapse.access.http.8008 - 643 - INFO - POST-{req} - 127.0.0.1 - 8008 - {{{user}}} Processed request: 0.008sec/0.000sec ru=(0.003sec, 0.000sec) db=(0.002sec/0.003sec/8) 552B 400 \"POST /_matrix/client/v3/keys/upload HTTP/1.1\" \"x\" [0 dbevts]\n"
    )
}

fn synapse_db(name: &str) -> PathBuf {
    let p = tmp(name);
    let _ = std::fs::remove_file(&p);
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch(
            r#"CREATE TABLE schema_version (version INTEGER); INSERT INTO schema_version VALUES (92);
               CREATE TABLE e2e_one_time_keys_json (user_id TEXT, device_id TEXT, algorithm TEXT, key_id TEXT, ts_added_ms BIGINT, key_json TEXT);
               CREATE TABLE e2e_fallback_keys_json (user_id TEXT, device_id TEXT, algorithm TEXT, key_id TEXT, key_json TEXT, used BOOLEAN);
               CREATE TABLE e2e_device_keys_json (user_id TEXT, device_id TEXT, ts_added_ms BIGINT, key_json TEXT);
               CREATE TABLE devices (user_id TEXT, device_id TEXT, display_name TEXT, last_seen BIGINT);
               CREATE TABLE device_inbox (user_id TEXT, device_id TEXT, stream_id BIGINT, message_json TEXT, instance_name TEXT);
               INSERT INTO e2e_one_time_keys_json VALUES ('@a:hs', 'A', 'signed_curve25519', 'K0', 1, '{"key":"OLD"}');
               INSERT INTO e2e_one_time_keys_json VALUES ('@b:hs', 'B', 'signed_curve25519', 'K0', 1, '{"key":"OLD"}');
               WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 549)
                 INSERT INTO e2e_one_time_keys_json SELECT '@f:hs', 'F', 'signed_curve25519', 'F' || i, 1, '{}' FROM n;
               WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 149)
                 INSERT INTO e2e_one_time_keys_json SELECT '@g:hs', 'G', 'signed_curve25519', 'G' || i, 1, '{}' FROM n;
               WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99)
                 INSERT INTO e2e_one_time_keys_json SELECT '@h:hs', 'H', 'signed_curve25519', 'H' || i, 1, '{}' FROM n;
               INSERT INTO e2e_one_time_keys_json SELECT '@g:hs', 'G', 'curve25519', 'X' || key_id, 1, '{}' FROM e2e_one_time_keys_json WHERE user_id = '@h:hs';
               INSERT INTO e2e_device_keys_json VALUES ('@a:hs', 'A', 1, '{}'), ('@b:hs', 'B', 1, '{}'), ('@c:hs', 'C', 1, '{}'), ('@d:hs', 'D', 1, '{}');
               INSERT INTO e2e_fallback_keys_json VALUES ('@d:hs', 'D', 'signed_curve25519', 'F', '{}', 1);
               INSERT INTO devices VALUES ('@e:hs', 'E', NULL, 1795294148000);
               INSERT INTO device_inbox VALUES ('@e:hs', 'E', 1, '{}', NULL), ('@e:hs', 'E', 2, '{}', NULL), ('@e:hs', 'E', 3, '{}', NULL);"#,
        )
        .unwrap();
    p
}

#[test]
fn scan_ranks_ke1_exhausted_and_backlog() {
    let db = synapse_db("scan.db");
    let log = tmp("homeserver.log");
    let mut text = String::new();
    // @c's key is no longer stored: ranked after the two whose rows still differ, despite more 400s.
    for i in 0..5 {
        text.push_str(&conflict("2026-11-21 20:00:0%", 10 + i, "@c:hs", "C", "K0").replace('%', &i.to_string()));
    }
    text.push_str(&conflict("2026-11-21 20:00:10", 20, "@a:hs", "A", "K0"));
    for i in 0..3 {
        text.push_str(&conflict("2026-11-21 20:00:2%", 30 + i, "@b:hs", "B", "K0").replace('%', &i.to_string()));
    }
    std::fs::write(&log, text).unwrap();
    let (db, log) = (db.to_str().unwrap(), log.to_str().unwrap());
    let doc = json_of(&cli(&["scan", "--json", "--synapse-db", db, "--synapse-log", log, "--backlog-min", "3"]));
    let ids = |k: &str| doc[k].as_array().unwrap().iter().map(|d| d["userId"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(ids("ke1"), ["@b:hs", "@a:hs", "@c:hs"]);
    assert_eq!(doc["ke1"][0]["rejections400"], 3);
    assert_eq!(doc["ke1"][0]["keys"][0]["storedRowDiffers"], true);
    assert_eq!(doc["ke1"][2]["keys"][0]["storedRowDiffers"], Value::Null);
    assert_eq!(doc["ke1"][0]["firstSafeStep"]["id"], "device_relogin");
    assert_eq!(doc["ke1"][2]["firstSafeStep"]["id"], "watch");
    assert_eq!(ids("otkExhausted"), ["@d:hs", "@c:hs"], "fallback used first");
    assert_eq!(ids("toDeviceBacklog"), ["@e:hs"]);
    // The one-time-key flood: more than 100 signed_curve25519 keys held (100 itself is not), most first.
    assert_eq!(ids("otkFlood"), ["@f:hs", "@g:hs"]);
    assert_eq!((doc["otkFlood"][0]["signedCurve25519"].as_i64(), doc["otkFlood"][0]["atSynapseCap"].as_bool()), (Some(550), Some(true)));
    assert_eq!((doc["otkFlood"][1]["signedCurve25519"].as_i64(), doc["otkFlood"][1]["atSynapseCap"].as_bool()), (Some(150), Some(false)));
    assert_eq!(doc["otkFlood"][1]["firstSafeStep"]["id"], "upgrade_client");
    assert!(doc["otkFlood"][1]["firstSafeStep"]["why"].as_str().unwrap().contains("42.4.0"));
    let low = json_of(&cli(&["scan", "--json", "--synapse-db", db, "--otk-flood", "99"]));
    assert_eq!(low["otkFlood"].as_array().unwrap().len(), 3, "@h's 100 keys count with --otk-flood 99");
    // The window keeps only @b's storm.
    let doc = json_of(&cli(&["scan", "--json", "--synapse-db", db, "--synapse-log", log, "--since", "2026-11-21T20:00:15"]));
    assert_eq!(doc["ke1"].as_array().unwrap().len(), 1);
    assert_eq!(doc["ke1"][0]["userId"], "@b:hs");
    // No log: the KE-1 list is null and a note says why; text output works.
    let doc = json_of(&cli(&["scan", "--json", "--synapse-db", db]));
    assert!(doc["ke1"].is_null() && doc["notes"][0].as_str().unwrap().contains("--synapse-log"));
    let o = cli(&["scan", "--synapse-db", db, "--synapse-log", log]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("1. @b:hs B — 3 × 400"));
    assert!(text.contains("1. @f:hs F — 550 held (at Synapse's limit"), "{text}");
    // Usage errors.
    assert_eq!(cli(&["scan"]).status.code(), Some(2));
    assert_eq!(cli(&["scan", "--synapse-db", db, "--since", "yesterday"]).status.code(), Some(2));
    assert_eq!(cli(&["scan", "--synapse-db", "/nonexistent/x.db"]).status.code(), Some(1));
}

#[test]
fn triage_from_a_har_without_a_report() {
    let db = synapse_db("har.db");
    let err = "One time key signed_curve25519:K0 already exists. Old key: {\"key\":\"OLD\",\"signatures\":{\"@a:hs\":{\"ed25519:A\":\"s1\"}}}; new key: {'key': 'NEW', 'signatures': {'@a:hs': {'ed25519:A': 's2'}}}";
    let har = serde_json::json!({"log": {"entries": [
        {"startedDateTime": "2026-11-21T20:00:00.000Z", "time": 9.0,
         "request": {"method": "POST", "url": "http://hs/_matrix/client/v3/keys/upload?access_token=syt_in_query_abcdefgh",
                     "headers": [{"name": "Authorization", "value": "Bearer syt_in_header_abcdefgh"}],
                     "postData": {"text": serde_json::to_string(&serde_json::json!({"device_keys": {"user_id": "@a:hs", "device_id": "A"},
                        "one_time_keys": {"signed_curve25519:K0": {"key": "NEW", "signatures": {"@a:hs": {"ed25519:A": "s2"}}}}})).unwrap()}},
         "response": {"status": 400, "content": {"text": serde_json::to_string(&serde_json::json!({"errcode": "M_UNKNOWN", "error": err})).unwrap()}}},
        {"startedDateTime": "2026-11-21T20:00:01.000Z", "time": 30.0,
         "request": {"method": "POST", "url": "http://hs/_matrix/client/unstable/org.matrix.msc4140/delayed_events/x"},
         "response": {"status": 200}, "timings": {"wait": 25.0}}]}});
    let p = tmp("capture.har");
    std::fs::write(&p, serde_json::to_string(&har).unwrap()).unwrap();
    for json in [true, false] {
        let mut args = vec!["triage", "--har", p.to_str().unwrap(), "--synapse-db", db.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let o = cli(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(!out.contains("syt_in_"), "a HAR token in the output");
        if json {
            let doc: Value = serde_json::from_str(&out).unwrap();
            let q = |id: &str| doc["questions"].as_array().unwrap().iter().find(|x| x["id"] == id).unwrap().clone();
            assert_eq!((q("Q1")["answer"].as_str(), q("Q1")["details"]["keyId"].as_str()), (Some("yes"), Some("K0")));
            assert_eq!(q("Q4")["answer"], "no");
            assert_eq!(doc["subject"]["userId"], "@a:hs");
            assert!(doc["subject"]["reportGeneratedAt"].is_null());
        } else {
            assert!(out.contains("(no report; HAR capture.har)"), "{out}");
        }
    }
    let bad = tmp("bad.har");
    std::fs::write(&bad, "{\"log\": 1}").unwrap();
    let o = cli(&["triage", "--har", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a HAR file"));
}

#[test]
fn triage_names_the_flood_from_the_database() {
    let db = synapse_db("triage-flood.db");
    let db = db.to_str().unwrap();
    let doc = json_of(&cli(&["triage", "--json", "--synapse-db", db, "--user", "@f:hs", "--device", "F"]));
    assert_eq!(doc["inputs"]["synapseDb"]["signedCurve25519Keys"], 550);
    let notes: Vec<&str> = doc["notes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        notes.iter().any(|n| n.contains("holds 550 signed_curve25519") && n.contains("Synapse's limit") && n.contains("42.4.0")),
        "{notes:?}"
    );
    // 100 keys (and other algorithms) are within a client's reach: no note.
    let doc = json_of(&cli(&["triage", "--json", "--synapse-db", db, "--user", "@h:hs", "--device", "H"]));
    assert_eq!(doc["inputs"]["synapseDb"]["signedCurve25519Keys"], 100);
    assert!(!doc["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("one-time-key flood")));
    let o = cli(&["triage", "--synapse-db", db, "--user", "@g:hs", "--device", "G"]);
    assert!(String::from_utf8(o.stdout).unwrap().contains("holds 150 signed_curve25519"));
}
