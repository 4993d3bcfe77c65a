//! The serde derives are the one description of every model type. This test
//! holds the hand-written TypeScript declarations (crates/wasm/src/types.rs)
//! and the JSON Schema (schema/report.schema.json) against them: each value
//! the package hands to JS is serialized from the Rust type, and its field
//! names must be exactly the interface's (both ways), recursively for the
//! nested object types the interface spells inline, and each value must be of
//! its field's declared type (a `number` that Rust writes as a string fails,
//! as does a string outside a declared set of literals). A field added in
//! Rust and missing from the `.d.ts` (or the schema) fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test's panic is its failure report")]

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

/// Top-level fields of `export interface NAME { … }`: name -> (optional, type text).
/// The type text is the rest of the field's line (an inline object's starts
/// with `{`: its fields are compared by [`inline_object`]).
fn interface(ts: &str, name: &str) -> BTreeMap<String, (bool, String)> {
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
                    let name = key.trim_end_matches('?').to_owned();
                    let ty = field_type(body, &name);
                    fields.insert(name, (key.ends_with('?'), ty));
                }
            }
            line.clear();
        } else if depth == 1 || (depth == 2 && c == '{') {
            line.push(c);
        }
    }
    fields
}

/// The declared type of a top-level field of the interface starting `body`:
/// the rest of its line, without the closing `;`.
fn field_type(body: &str, name: &str) -> String {
    let line = [format!("\n  {name}: "), format!("\n  {name}?: ")]
        .iter()
        .find_map(|head| body.find(head.as_str()).map(|at| &body[at + head.len()..]))
        .unwrap_or_else(|| panic!("no field {name}"));
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    line.trim().trim_end_matches(';').trim().to_owned()
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

/// Names both ways ([`same`]) and every written field's type against `export interface NAME`.
fn check(ts: &str, name: &str, v: &Value) {
    let declared = interface(ts, name);
    same(name, keys(v), declared.iter().map(|(k, (opt, _))| (k.clone(), *opt)).collect());
    for (k, x) in v.as_object().into_iter().flatten() {
        let Some((_, ty)) = declared.get(k) else { continue };
        assert!(fits(ts, x, ty), "{name}.{k}: Rust writes {x}, the TypeScript declaration says `{ty}`");
    }
}

/// Splits a type at its top-level `|` (not inside quotes, brackets, braces, parentheses or generics).
fn union_members(ty: &str) -> Vec<&str> {
    let (mut depth, mut quoted, mut start, mut out) = (0i32, false, 0, Vec::new());
    for (i, c) in ty.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '{' | '(' | '[' | '<' if !quoted => depth += 1,
            '}' | ')' | ']' | '>' if !quoted => depth -= 1,
            '|' if !quoted && depth == 0 => {
                out.push(ty[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(ty[start..].trim());
    out.into_iter().filter(|m| !m.is_empty()).collect()
}

/// The text of `export type NAME = …;` (possibly over several lines).
fn alias(ts: &str, name: &str) -> Option<String> {
    let at = ts.find(&format!("export type {name} ="))?;
    let rest = &ts[at..];
    let body = &rest[rest.find('=')? + 1..rest.find(';')?];
    Some(body.trim().to_owned())
}

/// Does a JSON value fit a TypeScript type as types.rs spells them?
fn fits(ts: &str, v: &Value, ty: &str) -> bool {
    union_members(ty).into_iter().any(|m| match m {
        "unknown" | "any" => true,
        "string" => v.is_string(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ if m.starts_with('\'') => v.as_str() == Some(m.trim_matches('\'')),
        _ if m.ends_with("[]") => v.as_array().is_some_and(|a| a.iter().all(|x| fits(ts, x, &m[..m.len() - 2]))),
        _ if m.starts_with('(') && m.ends_with(')') => fits(ts, v, &m[1..m.len() - 1]),
        _ if m.starts_with('{') || m.starts_with("Record<") => v.is_object(),
        _ if m.contains("['") => {
            // `Iface['field']`: that field's declared type.
            let (iface, field) = m.trim_end_matches("']").split_once("['").unwrap_or_else(|| panic!("odd type {m}"));
            let (_, fty) = interface(ts, iface).remove(field).unwrap_or_else(|| panic!("no field {iface}.{field}"));
            fits(ts, v, &fty)
        }
        _ => match alias(ts, m) {
            Some(body) => fits(ts, v, &body),
            None if ts.contains(&format!("export interface {m} ")) => {
                v.is_object() && {
                    check(ts, m, v);
                    true
                }
            }
            None => panic!("type {m} is neither a TypeScript primitive nor declared in types.rs"),
        },
    })
}

#[test]
fn a_number_declared_as_a_string_is_caught() {
    let ts = "export type Phase = 'a' | 'b';\nexport interface X {\n  n: number;\n  p: Phase | null;\n  l: string[];\n}\n";
    assert!(fits(ts, &json!(5), "number"));
    assert!(!fits(ts, &json!("5"), "number"), "a number written as a string");
    assert!(fits(ts, &json!(null), "Phase | null"));
    assert!(!fits(ts, &json!("c"), "Phase | null"), "outside the literal set");
    assert!(fits(ts, &json!(["x"]), "string[]") && !fits(ts, &json!([1]), "string[]"));
    assert!(fits(ts, &json!("b"), "X['p']"));
    let caught = std::panic::catch_unwind(|| check(ts, "X", &json!({ "n": "5", "p": "a", "l": [] })));
    assert!(caught.is_err(), "check fails on a field of the wrong type");
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
        remembered_prefix: None,
        evicted_at: None,
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
    check(&ts, "DiagEntry", &entry);
    let storage = serde_json::to_value(d.storage().unwrap()).unwrap();
    check(&ts, "StorageState", &storage);
    same(
        "StorageState.cryptoStore",
        keys(&storage["cryptoStore"]),
        inline_object(&ts, "StorageState", "cryptoStore").into_iter().map(|k| (k, false)).collect(),
    );
    let counts = serde_json::to_value(d.journal().counts()).unwrap();
    check(&ts, "ClassCount", &counts["KE-1"]);
    let finding = serde_json::to_value(&d.findings()[0]).unwrap();
    check(&ts, "Finding", &finding);
    let health = serde_json::to_value(d.health(400)).unwrap();
    check(&ts, "CryptoDiagHealth", &health);
    check(&ts, "KeClassHealth", &health["classes"][0]);
    let health = serde_json::to_value(d.otk_health()).unwrap();
    check(&ts, "OtkHealth", &health);
    for nested in ["uploads", "identity", "breaker", "config"] {
        same(
            &format!("OtkHealth.{nested}"),
            keys(&health[nested]),
            inline_object(&ts, "OtkHealth", nested).into_iter().map(|k| (k, false)).collect(),
        );
    }
    check(&ts, "OtkProof", &health["proof"]);
    check(&ts, "OtkFlood", &health["flood"]);
    check(&ts, "OtkTrigger", &health["trigger"]);
    check(&ts, "OtkRecommendation", &health["recommendation"]);
    let recovery = effects.iter().find_map(|e| match e {
        Effect::RecoveryNeeded(r) => Some(serde_json::to_value(r).unwrap()),
        _ => None,
    });
    check(&ts, "RecoveryNeeded", &recovery.expect("the storm asked for recovery"));
    let report = d.report(Context::default(), 400);
    let call = serde_json::to_value(report.call.as_ref().expect("peer evidence makes a call section")).unwrap();
    check(&ts, "CallEvidence", &call);
    assert_eq!(call["peers"].as_array().map(Vec::len), Some(2));
    for p in call["peers"].as_array().unwrap() {
        check(&ts, "CallPeer", p);
    }
    let guard = serde_json::to_value(report.tab_guard).unwrap();
    check(&ts, "TabGuardState", &guard);
    check(&ts, "TabGuardEvent", &guard["events"][0]);
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
