//! `crypto-health triage` end to end on files: bad inputs give a clear error and exit code; the
//! decision branches that need no homeserver (the real-Synapse cases run in `npm run e2e`,
//! scenario triage_real_synapse).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crypto_health_core::report::{Context, Session};
use crypto_health_core::{Config, Journal, Report};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("crypto-health-triage-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn triage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crypto-health")).arg("triage").args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_of(o: &Output) -> Value {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn q<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["questions"].as_array().unwrap().iter().find(|x| x["id"] == id).unwrap()
}

/// A report as the browser writes it after these console lines.
fn report(name: &str, lines: &[(u64, &str)]) -> PathBuf {
    let mut j = Journal::new(Config::default());
    for (ts, l) in lines {
        j.observe("error", l, *ts);
    }
    let ctx = Context {
        session: Session { user_id: Some("@a:hs".into()), device_id: Some("DEV".into()), homeserver: None },
        ..Context::default()
    };
    let r = Report::build(&j, ctx, true, 1_795_294_200_000);
    let p = tmp(name);
    std::fs::write(&p, serde_json::to_string(&r).unwrap()).unwrap();
    p
}

const KE1: &str = r#"Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"K1","signatures":{"@a:hs":{"ed25519:DEV":"s1"}}}; new key: {'key': 'K2', 'signatures': {'@a:hs': {'ed25519:DEV': 's2'}}} (http://hs/_matrix/client/v3/keys/upload)"#;

#[test]
fn bad_reports_are_clear_errors() {
    let o = triage(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--report is required"));

    let empty = tmp("empty.json");
    std::fs::write(&empty, "  \n").unwrap();
    let o = triage(&["--report", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("empty file"), "{}", stderr(&o));

    let good = std::fs::read_to_string(report("good.json", &[])).unwrap();
    let cut = tmp("truncated.json");
    std::fs::write(&cut, &good[..good.len() / 2]).unwrap();
    let o = triage(&["--report", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not JSON"), "{}", stderr(&o));

    let v2 = tmp("v2.json");
    std::fs::write(&v2, good.replacen("\"schemaVersion\":1", "\"schemaVersion\":2", 1)).unwrap();
    let o = triage(&["--report", v2.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("schemaVersion 2 is not supported"), "{}", stderr(&o));

    let foreign = tmp("foreign.json");
    std::fs::write(&foreign, r#"{"hello": "world"}"#).unwrap();
    let o = triage(&["--report", foreign.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a crypto-health report"));

    let o = triage(&["--report", tmp("does-not-exist.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn bad_server_inputs_are_clear_errors() {
    let r = report("r.json", &[(1, KE1)]);
    let r = r.to_str().unwrap();

    let other = tmp("other.db");
    let _ = std::fs::remove_file(&other);
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE notes (t TEXT);").unwrap();
    let o = triage(&["--report", r, "--synapse-db", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a Synapse database"), "{}", stderr(&o));

    let o = triage(&["--report", r, "--synapse-db", r]); // a JSON file is no database
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--synapse-db"), "{}", stderr(&o));

    // PostgreSQL is read; a server that is not there is a clear error that names
    // where it looked and never prints the password.
    let o = triage(&["--report", r, "--synapse-db", "postgresql://synapse:pw-never-printed@127.0.0.1:1/synapse?connect_timeout=5"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("synapse@127.0.0.1:1/synapse: cannot connect (password from the connection string)"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("pw-never-printed") && o.stdout.is_empty(), "{}", stderr(&o));
    let o = triage(&["--report", r, "--synapse-db", "host=127.0.0.1 port=1 dbname=synapse user=ro sslmode=bogus"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("sslmode `bogus`"), "{}", stderr(&o));

    let o = triage(&["--report", r, "--synapse-db", &format!("file:{}?mode=rw", other.display())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("read-only"));

    let notlog = tmp("not.log");
    std::fs::write(&notlog, "hello\nworld\n").unwrap();
    let o = triage(&["--report", r, "--synapse-log", notlog.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no Synapse log line"), "{}", stderr(&o));
}

#[test]
fn q1_from_the_400_alone_and_unknown_when_it_is_cut() {
    let full = report("full.json", &[(1, KE1)]);
    let doc = json_of(&triage(&["--json", "--report", full.to_str().unwrap()]));
    assert_eq!(q(&doc, "Q1")["answer"], "yes");
    assert_eq!(q(&doc, "Q1")["details"]["keyId"], "AAAAAAAAAA0");
    assert!(!q(&doc, "Q1")["toSettle"].as_array().unwrap().is_empty(), "a database would confirm it");

    let cut_line = &KE1[..KE1.find("Old key").unwrap() + 12];
    let cut = report("cut.json", &[(1, cut_line)]);
    let doc = json_of(&triage(&["--json", "--report", cut.to_str().unwrap()]));
    assert_eq!(q(&doc, "Q1")["answer"], "unknown");
    assert_eq!(doc["conclusions"][0]["status"], "unknown");
    assert!(doc["remediations"].as_array().unwrap().iter().all(|r| r["firstSafe"] == false));
}

#[test]
fn ke3_and_ke4_from_database_and_log() {
    let ke3 = "Error decrypting event (id=$ev1 type=m.room.encrypted sender=@b:hs room=!r:hs ts=2026-11-21T20:00:00.000Z): DecryptionError[msg: missing field `algorithm` at line 1 column 138, sender_key: None]";
    let t = 1_795_294_148_000u64; // 2026-11-21 20:49:08 UTC
    let ke4 = "[MembershipManager] Network local timeout error while sending event, immediate retry (1/10) AbortError: Restart delayed event timed out before the HS responded";
    let r = report("ke34.json", &[(t, ke3), (t, ke4)]);

    let db = tmp("synapse-like.db");
    let _ = std::fs::remove_file(&db);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            r#"CREATE TABLE schema_version (version INTEGER);
               INSERT INTO schema_version VALUES (94);
               CREATE TABLE event_json (event_id TEXT, room_id TEXT, internal_metadata TEXT, json TEXT, format_version INTEGER);
               INSERT INTO event_json VALUES ('$ev1', '!r:hs', '{}', '{"type":"m.room.encrypted","content":{"ciphertext":"x"}}', 3);"#,
        )
        .unwrap();
    let log = tmp("homeserver.log");
    std::fs::write(&log, concat!(
        "2026-11-21 20:48:40,000 - synapse.access.http.8008 - 643 - INFO - GET-1 - 127.0.0.1 - 8008 - {@a:hs} Processed request: 0.010sec/0.000sec ru=(0.001sec, 0.000sec) db=(0.001sec/0.001sec/1) 2B 200 \"GET /_matrix/client/v3/sync HTTP/1.1\" \"x\" [0 dbevts]\n",
        "2026-11-21 20:49:09,000 - synapse.access.http.8008 - 643 - INFO - POST-2 - 127.0.0.1 - 8008 - {@a:hs} Processed request: 3.500sec/0.000sec ru=(0.001sec, 0.000sec) db=(3.400sec/0.001sec/1) 2B 200 \"POST /_matrix/client/unstable/org.matrix.msc4140/delayed_events/abc/restart HTTP/1.1\" \"x\" [0 dbevts]\n",
    )).unwrap();
    let doc = json_of(&triage(&[
        "--json",
        "--report",
        r.to_str().unwrap(),
        "--synapse-db",
        db.to_str().unwrap(),
        "--synapse-log",
        log.to_str().unwrap(),
    ]));
    assert_eq!(q(&doc, "Q3")["answer"], "yes", "{}", q(&doc, "Q3"));
    assert_eq!(q(&doc, "Q3")["details"]["eventId"], "$ev1");
    assert_eq!(q(&doc, "Q4")["answer"], "yes", "{}", q(&doc, "Q4"));
    assert!(q(&doc, "Q4")["evidence"].as_array().unwrap().iter().any(|e| e["source"] == "homeserver.log:2"));
    // Tables this database lacks are named, not fatal.
    assert!(doc["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("e2e_one_time_keys_json")));
    assert_eq!(q(&doc, "Q1")["answer"], "no", "no KE-1 line, capture installed: {}", q(&doc, "Q1"));

    // Text output names the first safe step only when one applies.
    let o = triage(&["--report", r.to_str().unwrap()]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("Q4") && !text.contains("first safe step"), "{text}");
}
