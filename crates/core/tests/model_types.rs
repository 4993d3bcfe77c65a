//! The serde derives are the one description of every model type. This test
//! holds the hand-written TypeScript declarations (crates/wasm/src/types.rs)
//! and the JSON Schema (schema/report.schema.json) against them: each value
//! the package hands to JS is serialized from the Rust type, and its field
//! names must be exactly the interface's (both ways), recursively for the
//! nested object types the interface spells inline. A field added in Rust and
//! missing from the `.d.ts` (or the schema) fails here.

use crypto_health_core::diagnostics::{DeviceMemory, Effect, Exchange, StorageProbe, StoreProbe};
use crypto_health_core::environment::tab_guard::TabGuard;
use crypto_health_core::evidence::peer_keys::{ToDeviceEvent, OLM_V1};
use crypto_health_core::otk::health::MonitorConfig;
use crypto_health_core::{Config, Context, Diagnostics};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

fn types_ts() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../wasm/src/types.rs")).unwrap()
}

fn schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/report.schema.json")).unwrap())
        .unwrap()
}

/// Top-level field names of `export interface NAME { … }`: (name, optional).
fn interface(ts: &str, name: &str) -> BTreeMap<String, bool> {
    let head = format!("export interface {name} ");
    let start = ts.find(&head).unwrap_or_else(|| panic!("no interface {name} in types.rs"));
    let body = &ts[start..];
    let open = body.find('{').unwrap();
    let (mut depth, mut fields, mut line) = (0i32, BTreeMap::new(), String::new());
    for c in body[open..].chars() {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            break;
        }
        if c == '\n' {
            let l = line.trim();
            if let Some((key, _)) = l.split_once(':').filter(|_| !l.starts_with('*') && !l.starts_with("/*")) {
                let key = key.trim_start_matches('{').trim();
                if !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '?' || c == '_') && depth == 1 {
                    fields.insert(key.trim_end_matches('?').to_owned(), key.ends_with('?'));
                }
            }
            line.clear();
        } else if depth == 1 || (depth == 2 && c == '{') {
            line.push(c);
        }
    }
    fields
}

/// Field names of an inline object type `key: { a: …; b: … }` inside an interface.
fn inline_object(ts: &str, iface: &str, key: &str) -> BTreeSet<String> {
    let start = ts.find(&format!("export interface {iface} ")).unwrap();
    let body = &ts[start..];
    let at = body.find(&format!("\n  {key}: {{")).unwrap_or_else(|| panic!("no inline object {iface}.{key}"));
    let rest = &body[at + key.len() + 6..];
    let end = rest.find('}').unwrap();
    rest[..end]
        .split(';')
        .filter_map(|p| p.split_once(':'))
        .map(|(k, _)| k.trim().trim_end_matches('?').to_owned())
        .filter(|k| !k.is_empty())
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

fn same(what: &str, rust: BTreeSet<String>, declared: BTreeMap<String, bool>) {
    let required: BTreeSet<String> = declared.iter().filter(|(_, opt)| !**opt).map(|(k, _)| k.clone()).collect();
    let all: BTreeSet<String> = declared.keys().cloned().collect();
    let undeclared: Vec<_> = rust.difference(&all).collect();
    let missing: Vec<_> = required.difference(&rust).collect();
    assert!(undeclared.is_empty(), "{what}: Rust writes {undeclared:?}, the TypeScript declaration lacks them");
    assert!(missing.is_empty(), "{what}: the TypeScript declaration requires {missing:?}, Rust never writes them");
}

const BODY_400: &str = r#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"OLD\",\"signatures\":{}}; new key: {'key': 'NEW', 'signatures': {}}"}"#;
const UPLOAD: &str = r#"{"device_keys":{"user_id":"@a:hs","device_id":"DEV","keys":{"ed25519:DEV":"ED2","curve25519:DEV":"CU2"}},"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":{"key":"NEW"}}}"#;

/// A page that went through everything: capture, a storm over HTTP, an
/// evicted store, a slow delayed event, the tab guard.
fn busy() -> (Diagnostics, Vec<Effect>) {
    let mut d = Diagnostics::default();
    d.console_installed(Config::default());
    d.http_installed(MonitorConfig::default(), true);
    let memory = DeviceMemory {
        ed25519: Some("ED1".into()),
        curve25519: Some("CU1".into()),
        first_seen_at: Some(1),
        max_accepted_counter: Some(49),
    };
    d.session_device("@a:hs", "DEV", Some(memory));
    let probe = StoreProbe {
        session_present: true,
        session_readable: true,
        user_id: Some("@a:hs".into()),
        device_id: Some("DEV".into()),
        databases: Some(vec![]),
        why_unlisted: None,
        seen_at: Some(5),
    };
    d.crypto_store_probe(
        probe,
        StorageProbe { status: Some("not_persisted".into()), persisted: Some(false), usage: Some(1), quota: Some(2), ..Default::default() },
        10,
    );
    let mut effects = Vec::new();
    for i in 0..4u64 {
        effects.extend(d.before_upload(UPLOAD, 100 + i).effects);
        let ex = Exchange {
            method: "POST",
            url: "https://hs/_matrix/client/v3/keys/upload",
            status: Some(400),
            status_text: "Bad Request",
            content_type: Some("application/json"),
            duration_ms: 5,
            response_body: Some(BODY_400),
            ..Default::default()
        };
        effects.extend(d.exchange(&ex, 100 + i));
    }
    let slow = Exchange {
        method: "POST",
        url: "https://hs/_matrix/client/unstable/org.matrix.msc4140/delayed_events/x/restart",
        status: Some(200),
        duration_ms: 2500,
        ..Default::default()
    };
    d.exchange(&slow, 200);
    // A /sync summary as the fetch tap hands it over: the flood detector's section.
    let sync = "otk signed_curve25519=50\ntotal 1\nev m.room.encrypted\t@b:hs\t\t\t\tK\n";
    d.exchange(
        &Exchange {
            method: "GET",
            url: "https://hs/_matrix/client/v3/sync",
            status: Some(200),
            response_body: Some(sync),
            ..Default::default()
        },
        210,
    );
    d.console_line("warn", "missing key at index 3 for participant @b:hs:BDEV", 300);
    // A peer's Olm message encrypted for the identity this device lost, and a peer it cannot reach.
    let old_key = vec!["CU1".to_owned()];
    d.to_device(
        &ToDeviceEvent {
            event_type: "m.room.encrypted",
            sender: Some("@c:hs"),
            algorithm: Some(OLM_V1),
            sender_key: Some("CKEY"),
            recipient_keys: &old_key,
            msgid: Some("msg1"),
        },
        310,
    );
    d.console_line("warn", "WARN matrix_sdk_crypto::session_manager::sessions: Error creating Olm session user_id=\"@e:hs\" device_id=\"EDEV\" error=Failed to verify the signature of a one-time key, key: K, signing_key: S", 320);
    d.tab_guard(TabGuard::from_value(&json!({
        "mechanism": "web-locks", "role": "primary", "lockName": "l", "tabId": "t", "since": 1, "acquiredTs": 1,
        "events": [{"ts": 1, "role": "primary", "cause": "acquired", "peer": null}],
    })));
    (d, effects)
}

#[test]
fn values_handed_to_js_match_their_typescript_declarations() {
    let ts = types_ts();
    let (d, effects) = busy();
    let entry = serde_json::to_value(d.entries().next().unwrap()).unwrap();
    same("DiagEntry", keys(&entry), interface(&ts, "DiagEntry"));
    let storage = serde_json::to_value(d.storage().unwrap()).unwrap();
    same("StorageState", keys(&storage), interface(&ts, "StorageState"));
    same(
        "StorageState.cryptoStore",
        keys(&storage["cryptoStore"]),
        inline_object(&ts, "StorageState", "cryptoStore").into_iter().map(|k| (k, false)).collect(),
    );
    let counts = serde_json::to_value(d.journal().counts()).unwrap();
    same("ClassCount", keys(&counts["KE-1"]), interface(&ts, "ClassCount"));
    let finding = serde_json::to_value(&d.findings()[0]).unwrap();
    same("Finding", keys(&finding), interface(&ts, "Finding"));
    let health = serde_json::to_value(d.otk_health()).unwrap();
    same("OtkHealth", keys(&health), interface(&ts, "OtkHealth"));
    for nested in ["uploads", "identity", "breaker", "config"] {
        same(
            &format!("OtkHealth.{nested}"),
            keys(&health[nested]),
            inline_object(&ts, "OtkHealth", nested).into_iter().map(|k| (k, false)).collect(),
        );
    }
    same("OtkProof", keys(&health["proof"]), interface(&ts, "OtkProof"));
    same("OtkFlood", keys(&health["flood"]), interface(&ts, "OtkFlood"));
    same("OtkTrigger", keys(&health["trigger"]), interface(&ts, "OtkTrigger"));
    same("OtkRecommendation", keys(&health["recommendation"]), interface(&ts, "OtkRecommendation"));
    let recovery = effects.iter().find_map(|e| match e {
        Effect::RecoveryNeeded(r) => Some(serde_json::to_value(r).unwrap()),
        _ => None,
    });
    same("RecoveryNeeded", keys(&recovery.expect("the storm asked for recovery")), interface(&ts, "RecoveryNeeded"));
    let report = d.report(Context::default(), 400);
    let call = serde_json::to_value(report.call.as_ref().expect("peer evidence makes a call section")).unwrap();
    same("CallEvidence", keys(&call), interface(&ts, "CallEvidence"));
    assert_eq!(call["peers"].as_array().map(Vec::len), Some(2));
    for p in call["peers"].as_array().unwrap() {
        same("CallPeer", keys(p), interface(&ts, "CallPeer"));
    }
    let guard = serde_json::to_value(report.tab_guard).unwrap();
    same("TabGuardState", keys(&guard), interface(&ts, "TabGuardState"));
    same("TabGuardEvent", keys(&guard["events"][0]), interface(&ts, "TabGuardEvent"));
}

/// Every object the report holds: its keys are exactly the schema's
/// properties at that place (the schema forbids others), and every property
/// the schema lists is one Rust writes.
#[test]
fn report_fields_match_the_schema_both_ways() {
    let (d, _) = busy();
    let report = serde_json::to_value(d.report(Context::default(), 400)).unwrap();
    let schema = schema();
    let mut checked = 0;
    walk(&report, &schema, &schema, "", &mut checked);
    assert!(checked > 20, "only {checked} objects compared");
}

fn resolve<'a>(s: &'a Value, root: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let path = r.trim_start_matches("#/");
            path.split('/').fold(root, |v, k| &v[k])
        }
        None => s,
    }
}

fn walk(v: &Value, s: &Value, root: &Value, at: &str, checked: &mut u32) {
    let s = resolve(s, root);
    // `anyOf`/`oneOf` (a section or null): the object branch describes it.
    let s = match (s.get("anyOf").or_else(|| s.get("oneOf")), v.is_object()) {
        (Some(Value::Array(alts)), true) => alts.iter().map(|a| resolve(a, root)).find(|a| a.get("properties").is_some()).unwrap_or(s),
        _ => s,
    };
    match v {
        Value::Object(m) => {
            let Some(Value::Object(props)) = s.get("properties") else { return }; // a free-form map (counts, extra)
            if s.get("additionalProperties") != Some(&Value::Bool(false)) {
                // Open objects (an entry's fields): only the declared keys are checked.
                for (k, x) in m.iter().filter(|(k, _)| props.contains_key(*k)) {
                    walk(x, &props[k], root, &format!("{at}/{k}"), checked);
                }
                return;
            }
            *checked += 1;
            let declared: BTreeSet<&String> = props.keys().collect();
            let written: BTreeSet<&String> = m.keys().collect();
            let undeclared: Vec<_> = written.difference(&declared).collect();
            let unwritten: Vec<_> = declared.difference(&written).collect();
            assert!(undeclared.is_empty(), "{at}: Rust writes {undeclared:?}, the schema lacks them");
            assert!(unwritten.is_empty(), "{at}: the schema declares {unwritten:?}, Rust never writes them");
            for (k, x) in m {
                walk(x, &props[k], root, &format!("{at}/{k}"), checked);
            }
        }
        Value::Array(items) => {
            if let Some(item) = s.get("items") {
                for x in items {
                    walk(x, item, root, &format!("{at}[]"), checked);
                }
            }
        }
        _ => {}
    }
}
