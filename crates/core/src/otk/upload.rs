//! The `keys/upload` exchange as the HTTP tap sees it (element-hq/synapse synapse/handlers/e2e_keys.py; matrix-org/matrix-js-sdk src/rust-crypto/OutgoingRequestsManager.ts): what
//! the device sent (identity, one-time and fallback key ids) and what the
//! server answered, reduced to the facts the OTK health monitor needs.

use crate::otk::conflict::{self, OtkConflict};
use crate::otk::key_id::decode_counter;
use serde_json::Value;

/// What one upload body says about the device.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UploadRequest {
    /// From `device_keys` (sent with a new account's first upload only).
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    /// The device's ed25519 identity key, when `device_keys` is present.
    pub ed25519: Option<String>,
    pub curve25519: Option<String>,
    /// `algorithm:id` of each one-time key, in body order.
    pub one_time_key_ids: Vec<String>,
    pub fallback_key_ids: Vec<String>,
    /// Lowest and highest decoded one-time-key counters in the body.
    pub min_counter: Option<u64>,
    pub max_counter: Option<u64>,
    /// Same value for the same content, whatever the key order or whitespace.
    pub fingerprint: u64,
    pub body_bytes: usize,
    /// The body was not a JSON object (fingerprinted over its bytes).
    pub malformed: bool,
}

/// FNV-1a: tiny, no table, good enough to tell bodies apart.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// A hash of a value's content: object entries are summed, so the order of
/// keys (and the whitespace of the text) does not matter, the content does.
fn content_hash(v: &Value) -> u64 {
    // splitmix64's finaliser: sums of mixed entries do not cancel out.
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    match v {
        Value::Object(m) => {
            mix(m.iter().fold(1, |acc, (k, x)| acc.wrapping_add(mix(fnv1a(k.as_bytes()) ^ content_hash(x).rotate_left(29)))))
        }
        Value::Array(a) => mix(a.iter().fold(2, |acc, x| mix(acc ^ content_hash(x)))),
        // serde_json::to_string, not Value's Display: the same text, and the
        // wasm keeps one JSON writer (Display brings a pretty one along).
        other => fnv1a(serde_json::to_string(other).unwrap_or_default().as_bytes()),
    }
}

/// Read an upload body. Never fails: a body we cannot read is still
/// fingerprinted (so the storm breaker can compare it) and marked `malformed`.
pub fn parse_request(body: &str) -> UploadRequest {
    let mut r = UploadRequest { body_bytes: body.len(), ..Default::default() };
    let v: Value = match serde_json::from_str::<Value>(body).ok() {
        Some(v @ Value::Object(_)) => v,
        _ => {
            r.fingerprint = fnv1a(body.as_bytes());
            r.malformed = true;
            return r;
        }
    };
    r.fingerprint = content_hash(&v);
    if let Some(dk) = v.get("device_keys") {
        r.user_id = dk.get("user_id").and_then(Value::as_str).map(str::to_owned);
        r.device_id = dk.get("device_id").and_then(Value::as_str).map(str::to_owned);
        if let Some(Value::Object(keys)) = dk.get("keys") {
            for (k, val) in keys {
                let slot = match k.split_once(':').map(|(a, _)| a) {
                    Some("ed25519") => &mut r.ed25519,
                    Some("curve25519") => &mut r.curve25519,
                    _ => continue,
                };
                *slot = val.as_str().map(str::to_owned);
            }
        }
    }
    if let Some(Value::Object(otks)) = v.get("one_time_keys") {
        for id in otks.keys() {
            if let Some((_, c)) = id.split_once(':').and_then(|(_, kid)| decode_counter(kid)) {
                r.min_counter = Some(r.min_counter.map_or(c, |m| m.min(c)));
                r.max_counter = Some(r.max_counter.map_or(c, |m| m.max(c)));
            }
            r.one_time_key_ids.push(id.clone());
        }
    }
    for field in ["fallback_keys", "org.matrix.msc2732.fallback_keys"] {
        if let Some(Value::Object(fks)) = v.get(field) {
            r.fallback_key_ids.extend(fks.keys().cloned());
        }
    }
    r
}

/// What the server's answer means for the device.
#[derive(Clone, Debug, PartialEq)]
pub enum UploadOutcome {
    /// 2xx: keys published; `one_time_key_counts` per algorithm.
    Accepted { counts: Vec<(String, u64)> },
    /// 400 "One time key … already exists": the KE-1 conflict.
    Conflict(OtkConflict),
    /// Any other 4xx: the request itself is refused (auth, bad JSON, …).
    Rejected { status: u16, errcode: Option<String>, error: Option<String> },
    /// 429, 5xx, network error, abort: worth retrying later.
    Transient { status: Option<u16>, reason: String },
}

/// Interpret a response (`status`, body text) or a fetch failure (`error`).
/// Bodies that are not JSON are handled: the conflict text is found anywhere.
pub fn parse_response(status: Option<u16>, body: Option<&str>, error: Option<&str>) -> UploadOutcome {
    let Some(status) = status else {
        return UploadOutcome::Transient { status: None, reason: error.unwrap_or("network error").to_owned() };
    };
    let json: Option<Value> = body.and_then(|b| serde_json::from_str(b).ok());
    let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).and_then(Value::as_str).map(str::to_owned);
    match status {
        200..=299 => {
            let counts = json
                .as_ref()
                .and_then(|j| j.get("one_time_key_counts"))
                .and_then(Value::as_object)
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.to_owned(), v.as_u64()?))).collect())
                .unwrap_or_default();
            UploadOutcome::Accepted { counts }
        }
        400 => {
            // The `error` field unescaped when it parses; the raw body otherwise.
            let text = field("error");
            match text.as_deref().or(body).and_then(conflict::parse) {
                Some(c) => UploadOutcome::Conflict(c),
                None => UploadOutcome::Rejected { status, errcode: field("errcode"), error: text },
            }
        }
        429 | 500..=599 => {
            UploadOutcome::Transient { status: Some(status), reason: field("errcode").unwrap_or_else(|| format!("HTTP {status}")) }
        }
        _ => UploadOutcome::Rejected { status, errcode: field("errcode"), error: field("error") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"device_keys":{"algorithms":["m.olm.v1.curve25519-aes-sha2"],"device_id":"DEV","keys":{"curve25519:DEV":"CURVE","ed25519:DEV":"EDKEY"},"signatures":{},"user_id":"@a:hs"},"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":{"key":"k13"},"signed_curve25519:AAAAAAAAAAA":{"key":"k0"}},"fallback_keys":{"signed_curve25519:AAAAAAAAADI":{"key":"f","fallback":true}}}"#;

    #[test]
    fn reads_identity_and_key_ids() {
        let r = parse_request(BODY);
        assert_eq!(r.user_id.as_deref(), Some("@a:hs"));
        assert_eq!(r.device_id.as_deref(), Some("DEV"));
        assert_eq!(r.ed25519.as_deref(), Some("EDKEY"));
        assert_eq!(r.curve25519.as_deref(), Some("CURVE"));
        assert_eq!(r.one_time_key_ids.len(), 2);
        assert_eq!(r.fallback_key_ids, vec!["signed_curve25519:AAAAAAAAADI"]);
        assert_eq!((r.min_counter, r.max_counter), (Some(0), Some(13)));
        assert!(!r.malformed);
    }

    #[test]
    fn fingerprint_ignores_key_order_and_whitespace_but_not_content() {
        let a = parse_request(r#"{"one_time_keys":{"x:A":{"key":"1"},"x:B":{"key":"2"}}}"#);
        let b = parse_request("{ \"one_time_keys\" : { \"x:B\":{\"key\":\"2\"}, \"x:A\":{\"key\":\"1\"} } }");
        let c = parse_request(r#"{"one_time_keys":{"x:A":{"key":"1"},"x:B":{"key":"3"}}}"#);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
    }

    #[test]
    fn malformed_bodies_are_fingerprinted_not_rejected() {
        for body in ["", "not json", "[1,2]", "{\"one_time_keys\": 5"] {
            let r = parse_request(body);
            assert!(r.malformed, "{body:?}");
            assert_eq!(r.fingerprint, fnv1a(body.as_bytes()));
        }
        let odd = parse_request(r#"{"device_keys":"x","one_time_keys":[1],"fallback_keys":null}"#);
        assert!(!odd.malformed);
        assert!(odd.one_time_key_ids.is_empty() && odd.ed25519.is_none());
    }

    #[test]
    fn python_repr_details_survive_the_json_body() {
        // True/None, non-ASCII and nested signatures in the repr; escaped quotes in the JSON body.
        let body = r#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAUM already exists. Old key: {"fallback":true,"key":"Ké","signatures":{"@a:hs":{"ed25519:DEV":"s1"}}}; new key: {'key': 'Ké2', 'fallback': True, 'extra': None, 'signatures': {'@a:hs': {'ed25519:DEV': 's2', 'ed25519:OTHER': 's3'}}}"}"#;
        let UploadOutcome::Conflict(c) = parse_response(Some(400), Some(body), None) else { panic!() };
        assert_eq!((c.key_id.as_str(), c.counter, c.diverged), ("AAAAAAAAAUM", Some(323), Some(true)));
        let new = c.new_key.unwrap();
        assert_eq!((new["key"].as_str(), new["fallback"].as_bool(), new["extra"].is_null()), (Some("Ké2"), Some(true), true));
        assert_eq!(new["signatures"]["@a:hs"]["ed25519:OTHER"], "s3");
        assert_eq!(c.old_key.unwrap()["key"], "Ké");
        // Cut in the middle of the old key: id and counter stay, divergence unknown.
        let cut = &body[..body.find("signatures").unwrap()];
        let UploadOutcome::Conflict(c) = parse_response(Some(400), Some(cut), None) else { panic!() };
        assert_eq!((c.counter, c.diverged), (Some(323), None));
    }

    #[test]
    fn responses() {
        let ok = parse_response(Some(200), Some(r#"{"one_time_key_counts":{"signed_curve25519":50}}"#), None);
        assert_eq!(ok, UploadOutcome::Accepted { counts: vec![("signed_curve25519".into(), 50)] });
        let body = r#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"K1\",\"signatures\":{\"@a:hs\":{\"ed25519:DEV\":\"s\"}}}; new key: {'key': 'K2', 'signatures': {'@a:hs': {'ed25519:DEV': 't'}}}"}"#;
        match parse_response(Some(400), Some(body), None) {
            UploadOutcome::Conflict(c) => {
                assert_eq!((c.key_id.as_str(), c.counter, c.diverged), ("AAAAAAAAAA0", Some(13), Some(true)));
            }
            other => panic!("{other:?}"),
        }
        // Not JSON (a proxy rewrote it) but the text is there.
        let text = "One time key signed_curve25519:AAAAAQ already exists. Old key: {\"key\":\"A\"}; new key: {'key': 'B'}";
        assert!(matches!(parse_response(Some(400), Some(text), None), UploadOutcome::Conflict(_)));
        assert!(matches!(
            parse_response(Some(400), Some(r#"{"errcode":"M_BAD_JSON","error":"bad"}"#), None),
            UploadOutcome::Rejected { status: 400, .. }
        ));
        assert!(matches!(parse_response(Some(401), Some("<html>"), None), UploadOutcome::Rejected { status: 401, errcode: None, .. }));
        assert!(matches!(parse_response(Some(502), None, None), UploadOutcome::Transient { status: Some(502), .. }));
        assert_eq!(
            parse_response(None, None, Some("AbortError: aborted")),
            UploadOutcome::Transient { status: None, reason: "AbortError: aborted".into() }
        );
    }
}
