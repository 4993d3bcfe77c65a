//! The `crypto-health` binary end to end: stdin in, JSON lines out, clear errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crypto-health"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8(o.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const KE1_400: &str = r#"M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"KEYONE","signatures":{"@a:hs":{"ed25519:DEV":"s1"}}}; new key: {'key': 'KEYTWO', 'signatures': {'@a:hs': {'ed25519:DEV': 's2'}}} (http://localhost:8008/_matrix/client/v3/keys/upload)"#;

#[test]
fn classify_prints_ke1_fields() {
    let o = run(&["classify"], format!("{KE1_400}\nnothing to see\n").as_bytes());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json_lines(&o);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["ke"], "KE-1");
    assert_eq!(v[0]["signature"], "ke1.otk_conflict");
    assert_eq!(v[0]["severity"], "failure");
    let f = &v[0]["fields"];
    assert_eq!(f["algorithm"], "signed_curve25519");
    assert_eq!(f["key_id"], "AAAAAAAAAA0");
    assert_eq!(f["counter"], 13);
    assert_eq!(f["old_key"]["key"], "KEYONE");
    assert_eq!(f["new_key"]["key"], "KEYTWO");
    assert_eq!(f["diverged"], true);
    assert_eq!(v[1]["ke"], Value::Null);
    assert_eq!(v[1]["signature"], Value::Null);
}

#[test]
fn classify_jsonl_keeps_multi_line_messages_whole() {
    let msg = "WARN matrix_sdk_crypto: Received an unexpected encrypted to-device event\n  sender=\"@b:hs\"\n  event_type=\"io.element.call.encryption_keys\"";
    let input = format!("{}\n\n", serde_json::to_string(msg).unwrap());
    let o = run(&["classify", "--jsonl"], input.as_bytes());
    assert!(o.status.success());
    let v = json_lines(&o);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["signature"], "ke2.call_key_delivered");
    assert_eq!(v[0]["severity"], "info");
}

#[test]
fn classify_jsonl_rejects_non_strings_with_line_number() {
    let o = run(&["classify", "--jsonl"], b"\"ok\"\n{\"not\": \"a string\"}\n");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 2"), "{err}");
    assert!(!err.contains("panicked"));
    let o = run(&["classify", "--jsonl"], b"{truncated\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not JSON"));
}

#[test]
fn invalid_utf8_is_repaired_and_processed() {
    // One bad byte no longer stops the run: the line is processed with U+FFFD and the repair is counted.
    let o = run(&["redact"], b"ok\n\xff password=hunter2\nafter\n");
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.contains('\u{fffd}') && !out.contains("hunter2") && out.contains("after"), "{out}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 line(s) held invalid UTF-8"));
    let o = run(&["classify"], b"ok\n\xff\xfe MissingKey: missing key at index 3 for participant @bob:hs:DEV\n");
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.lines().nth(1).is_some_and(|l| l.contains("KE-2")), "{out}");
}

#[test]
fn classify_prints_extracted_fields_redacted() {
    let line = "MatrixRTC: Reached maximum (10) retries cause by: Error: POST https://hs.example/_matrix/client/v3/delayed_events?access_token=Zk3qP9xVb2LmN7sT4wRyE6uH failed";
    let o = run(&["classify"], format!("{line}\n").as_bytes());
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("KE-4") && !out.contains("Zk3qP9xVb2LmN7sT4wRyE6uH"), "{out}");
    assert!(out.contains("[REDACTED:access_token#"), "masks carry this run's fingerprint: {out}");
}

#[test]
fn redact_removes_secrets_and_keeps_ids() {
    let input = "GET /_matrix/client/v3/sync?access_token=syt_YWxpY2U_abcdefghijkl_0a1b2c&since=s1\n{\"user\":\"@alice:hs\",\"password\":\"hunter2\",\"device_id\":\"DEVICEID\"}\n";
    let o = run(&["redact"], input.as_bytes());
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(!out.contains("syt_YWxpY2U") && !out.contains("hunter2"), "{out}");
    assert!(out.contains("@alice:hs") && out.contains("DEVICEID") && out.contains("since=s1"), "{out}");
    assert_eq!(out.lines().count(), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("redacted 2 secret"));
}

/// A KE-1 line keeps its proof (the two public one-time keys that differ) as in the browser's
/// journal; a secret on the same line still goes.
#[test]
fn redact_keeps_the_ke1_proof() {
    let old = "J1n22AvFFduDGTbajDoUpUrgykPTQE6iGE0Ov/mK6gk";
    let new = "BB7FV+kDul+8U9BngxKgi5Bl1cXwkHrnXcMQZHiUgyc";
    let line = format!(
        "SynapseError: 400 - One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {{\"key\":\"{old}\",\"signatures\":{{}}}}; new key: {{'key': '{new}', 'signatures': {{}}}} access_token=syt_YWxpY2U_abcdefghijkl_0a1b2c\n"
    );
    let o = run(&["redact"], line.as_bytes());
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains(old) && out.contains(new) && out.contains("signed_curve25519:AAAAAAAAAA0"), "{out}");
    assert!(!out.contains("syt_YWxpY2U"), "{out}");
    // The same keys on a line that is not a KE line are key material.
    let o = run(&["redact"], format!("blob {old}\n").as_bytes());
    assert!(!String::from_utf8(o.stdout).unwrap().contains(old));
}

#[test]
fn usage_errors_exit_2() {
    for args in [&[][..], &["frobnicate"][..], &["classify", "--bogus"][..], &["redact", "x"][..]] {
        let o = run(args, b"");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("usage:"));
    }
    assert!(run(&["help"], b"").status.success());
}

#[test]
fn huge_line_is_handled() {
    let mut big = "x".repeat(5 << 20);
    big.push_str(" missing key at index 1 for participant @b:hs:D\n");
    let o = run(&["classify"], big.as_bytes());
    assert!(o.status.success());
    // The signature sits past the 64 KiB scan window: not matched, and not a crash.
    assert_eq!(json_lines(&o)[0]["ke"], Value::Null);
}

#[test]
fn a_non_utf8_argument_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"--report=caf\xe9.json");
    let o = Command::new(env!("CARGO_BIN_EXE_crypto-health")).arg("triage").arg(bad).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("argument 2 is not UTF-8 text: `--report=caf\u{fffd}.json`"), "{err}");
    assert!(err.contains("usage: crypto-health"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
