//! KE-1 reproduced natively: matrix-sdk-crypto's `OlmMachine` (in-memory store) against a real
//! Synapse. A first machine publishes its keys for a device; a fresh machine for the same
//! user/device (what an evicted or reset crypto store amounts to) uploads again and gets the real
//! 400, which must parse into the KE-1 proof: key id, decoded counter, divergence.
//!
//! Needs a running Synapse: run through `npm run e2e` (scenario `native_olmmachine_conflict`),
//! which sets E2E_SYNAPSE_URL, E2E_KE1_USER, E2E_HEALTHY_USER, E2E_PASSWORD and E2E_OUT. Without
//! them the tests fail (they never skip). Build: `cargo test -p crypto-health-e2e-native
//! --features synapse`.

use crypto_health_core::otk::conflict as otk_conflict;
use crypto_health_core::otk::health::{Monitor, MonitorConfig, Source};
use crypto_health_core::otk::upload::{parse_request, parse_response};
use crypto_health_core::report::{Context, Session};
use crypto_health_core::{classify, Config, Journal, Report};
use matrix_sdk_crypto::types::requests::AnyOutgoingRequest;
use matrix_sdk_crypto::OlmMachine;
use ruma::api::client::keys::upload_keys::v3::{Request as UploadRequest, Response as UploadResponse};
use ruma::{OneTimeKeyAlgorithm, OwnedDeviceId, OwnedTransactionId, OwnedUserId, UInt};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: this test needs a running Synapse. Run it with `npm run e2e` (scenario native_olmmachine_conflict).")
    })
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

struct Login {
    user_id: OwnedUserId,
    device_id: OwnedDeviceId,
    token: String,
}

fn login(base: &str, user: &str, password: &str) -> Login {
    let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password});
    let v: Value = ureq::post(&format!("{base}/_matrix/client/v3/login")).send_json(body).expect("login").into_json().unwrap();
    Login {
        user_id: v["user_id"].as_str().unwrap().try_into().unwrap(),
        device_id: v["device_id"].as_str().unwrap().into(),
        token: v["access_token"].as_str().unwrap().into(),
    }
}

/// POST a JSON body; (status, body) for 2xx and 4xx alike.
fn post(base: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let r = ureq::post(&format!("{base}{path}")).set("Authorization", &format!("Bearer {token}")).send_json(body);
    match r {
        Ok(resp) => (resp.status(), resp.into_json().unwrap()),
        Err(ureq::Error::Status(code, resp)) => (code, resp.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("POST {path}: {e}"),
    }
}

/// The machine's pending KeysUpload: request id and the JSON body the js-sdk would send.
async fn keys_upload(machine: &OlmMachine) -> Option<(OwnedTransactionId, Value)> {
    for r in machine.outgoing_requests().await.unwrap() {
        if let AnyOutgoingRequest::KeysUpload(req) = r.request() {
            return Some((r.request_id().to_owned(), upload_body(req)));
        }
    }
    None
}

fn upload_body(req: &UploadRequest) -> Value {
    let mut body = serde_json::Map::new();
    if let Some(dk) = &req.device_keys {
        body.insert("device_keys".into(), serde_json::to_value(dk).unwrap());
    }
    body.insert("one_time_keys".into(), serde_json::to_value(&req.one_time_keys).unwrap());
    body.insert("fallback_keys".into(), serde_json::to_value(&req.fallback_keys).unwrap());
    Value::Object(body)
}

fn upload_response(v: &Value) -> UploadResponse {
    let mut counts = BTreeMap::new();
    for (alg, n) in v["one_time_key_counts"].as_object().unwrap() {
        counts.insert(OneTimeKeyAlgorithm::from(alg.as_str()), UInt::new(n.as_u64().unwrap()).unwrap());
    }
    UploadResponse::new(counts)
}

fn server_ed25519(base: &str, token: &str, user: &OwnedUserId, device: &OwnedDeviceId) -> Option<String> {
    let (status, v) = post(base, "/_matrix/client/v3/keys/query", token, &json!({"device_keys": {user.as_str(): []}}));
    assert_eq!(status, 200, "keys/query: {v}");
    v["device_keys"][user.as_str()][device.as_str()]["keys"][format!("ed25519:{device}")].as_str().map(String::from)
}

/// Where the scenario collects what this test leaves behind (figures, a report for triage).
fn out_dir() -> PathBuf {
    let d = PathBuf::from(env("E2E_OUT"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_json(name: &str, v: &Value) {
    std::fs::write(out_dir().join(name), serde_json::to_string_pretty(v).unwrap() + "\n").unwrap();
}

/// The report the browser would write after seeing these console lines and these keys/upload
/// exchanges (request body, status, response body) through its HTTP tap (same core, same model).
fn report_from(login: &Login, base: &str, lines: &[&str], uploads: &[(&Value, u16, &Value)]) -> Value {
    let mut journal = Journal::new(Config::default());
    let t = now_ms();
    for (i, l) in lines.iter().enumerate() {
        journal.observe("error", l, t + i as u64);
    }
    let ctx = Context {
        session: Session {
            user_id: Some(login.user_id.to_string()),
            device_id: Some(login.device_id.to_string()),
            homeserver: Some(base.into()),
        },
        crypto_ready: Some(true),
        ..Context::default()
    };
    let mut report = Report::build(&journal, ctx, true, now_ms());
    if !uploads.is_empty() {
        let mut m = Monitor::new(MonitorConfig::default());
        m.set_device(Some(login.user_id.as_str()), Some(login.device_id.as_str()));
        for (i, (req, status, resp)) in uploads.iter().enumerate() {
            m.observe_request(&parse_request(&req.to_string()), t + i as u64);
            m.observe_outcome(&parse_response(Some(*status), Some(&resp.to_string()), None), Source::Http, t + i as u64);
        }
        report.otk_health = Some(m.snapshot());
    }
    serde_json::to_value(report).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn fresh_machine_on_a_used_device_gets_the_real_conflict() {
    let started = Instant::now();
    let base = env("E2E_SYNAPSE_URL");
    let dev = login(&base, &env("E2E_KE1_USER"), &env("E2E_PASSWORD"));

    // 1. The device's first account publishes its keys.
    let first = OlmMachine::new(&dev.user_id, &dev.device_id).await;
    let (id1, body1) = keys_upload(&first).await.expect("a fresh machine wants to upload keys");
    let n_otks = body1["one_time_keys"].as_object().unwrap().len();
    let (status, resp1) = post(&base, "/_matrix/client/v3/keys/upload", &dev.token, &body1);
    assert_eq!(status, 200, "first upload: {resp1}");
    assert_eq!(resp1["one_time_key_counts"]["signed_curve25519"], json!(n_otks), "server counts the first batch");
    first.mark_request_as_sent(&id1, &upload_response(&resp1)).await.unwrap();
    assert!(keys_upload(&first).await.is_none(), "after a 200 the first machine has nothing left to upload");

    // 2. The store is gone; a new account under the same device id uploads again.
    let second = OlmMachine::new(&dev.user_id, &dev.device_id).await;
    let (_id2, body2) = keys_upload(&second).await.expect("the fresh machine wants to upload keys");
    let (status, resp) = post(&base, "/_matrix/client/v3/keys/upload", &dev.token, &body2);
    assert_eq!(status, 400, "second upload must be rejected: {resp}");
    assert_eq!(resp["errcode"], "M_UNKNOWN");
    let error = resp["error"].as_str().expect("error text");

    // 3. The core parser on the real text.
    let c = otk_conflict::parse(error).unwrap_or_else(|| panic!("core parser did not recognise: {error}"));
    // Synapse stops at the first conflicting id in request order; every id of the fresh batch
    // collides, so it is the first id of the body as sent (serialised in key order).
    let first_full_id = body2["one_time_keys"].as_object().unwrap().keys().next().unwrap().clone();
    assert_eq!(format!("{}:{}", c.algorithm, c.key_id), first_full_id);
    let old_sent = &body1["one_time_keys"][&first_full_id];
    let new_sent = &body2["one_time_keys"][&first_full_id];
    assert_eq!(c.old_key.as_ref(), Some(old_sent), "old key = what the first machine uploaded");
    assert_eq!(c.new_key.as_ref(), Some(new_sent), "new key (Python repr) = what the second machine sent");
    assert_eq!(c.diverged, Some(true));
    let counter = c.counter.expect("a vodozemac key id decodes to a counter");
    assert!(counter < n_otks as u64, "a re-created account's first batch: counter {counter} < {n_otks}");
    assert_eq!(c.key_id.len(), 11, "vodozemac ids are 11 base64 chars");

    // The same text as the js-sdk logs it goes through the classifier the browser uses.
    let url = format!("{base}/_matrix/client/v3/keys/upload");
    let line = format!("Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] {error} ({url})");
    let cls = classify(&line).expect("classified");
    assert_eq!(cls.signature.id, "ke1.otk_conflict");
    assert_eq!(cls.fields["key_id"], c.key_id.as_str());

    // 4. What the 400 left on the server: the device keys were replaced before the OTK check.
    let ed1 = first.identity_keys().ed25519.to_base64();
    let ed2 = second.identity_keys().ed25519.to_base64();
    let on_server = server_ed25519(&base, &dev.token, &dev.user_id, &dev.device_id);
    assert_eq!(on_server.as_deref(), Some(ed2.as_str()), "server now advertises the second account's identity");
    // And the loop: without a 2xx the fresh machine keeps the same upload pending.
    let (_, again) = keys_upload(&second).await.expect("still pending after the 400");
    assert_eq!(again["one_time_keys"], body2["one_time_keys"], "the same batch is rebuilt: the storm");

    let figures = json!({
        "user_id": dev.user_id, "device_id": dev.device_id,
        "key_id": c.key_id, "algorithm": c.algorithm, "counter": counter, "diverged": c.diverged,
        "otks_per_batch": n_otks, "identity_first": ed1, "identity_second": ed2,
        "server_identity": on_server, "duration_ms": started.elapsed().as_millis() as u64,
    });
    write_json("ke1-figures.json", &figures);
    write_json("ke1-report.json", &report_from(&dev, &base, &[&line], &[]));
    // The same device seen by the HTTP tap from its first upload on: otkHealth with the proof and
    // both identities (the one it first saw, the one that replaced it).
    let with_http = report_from(&dev, &base, &[&line], &[(&body1, 200, &resp1), (&body2, 400, &resp)]);
    let oh = &with_http["otkHealth"];
    assert_eq!(oh["proof"]["keyId"], json!(c.key_id), "the monitor proves the same key id: {oh}");
    assert_eq!(oh["identity"]["known"], json!(ed1), "{oh}");
    assert_eq!(oh["identity"]["replacedBy"], json!(ed2), "{oh}");
    write_json("ke1-report-http.json", &with_http);
    write_json("ke1-upload-bodies.json", &json!({"first": body1, "second": body2, "response": resp}));
}

#[tokio::test(flavor = "current_thread")]
async fn a_healthy_device_uploads_once() {
    let base = env("E2E_SYNAPSE_URL");
    let dev = login(&base, &env("E2E_HEALTHY_USER"), &env("E2E_PASSWORD"));
    let m = OlmMachine::new(&dev.user_id, &dev.device_id).await;
    let (id, body) = keys_upload(&m).await.expect("keys to upload");
    let (status, resp) = post(&base, "/_matrix/client/v3/keys/upload", &dev.token, &body);
    assert_eq!(status, 200, "{resp}");
    m.mark_request_as_sent(&id, &upload_response(&resp)).await.unwrap();
    assert!(keys_upload(&m).await.is_none());
    let ed = m.identity_keys().ed25519.to_base64();
    assert_eq!(server_ed25519(&base, &dev.token, &dev.user_id, &dev.device_id).as_deref(), Some(ed.as_str()));
    write_json(
        "healthy-figures.json",
        &json!({"user_id": dev.user_id, "device_id": dev.device_id, "identity": ed,
        "otks": body["one_time_keys"].as_object().unwrap().len()}),
    );
    write_json("healthy-report.json", &report_from(&dev, &base, &[], &[(&body, 200, &resp)]));
}
