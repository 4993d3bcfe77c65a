//! The KE-1 proof: Synapse's one-time-key conflict text, parsed (element-hq/synapse synapse/handlers/e2e_keys.py).
//!
//! `One time key <alg>:<id> already exists. Old key: <canonical JSON>; new key: <Python repr>`
//! Synapse rejects only when the values differ after dropping `signatures`,
//! so re-deriving that comparison here shows the divergence from the text alone.

use crate::otk::key_id::{decode_counter, IdScheme};
use serde_json::{Map, Value};

const HEAD: &str = "One time key ";
const TAIL: &str = " already exists";

#[derive(Clone, Debug, PartialEq)]
pub struct OtkConflict {
    pub algorithm: String,
    pub key_id: String,
    pub scheme: IdScheme,
    pub counter: Option<u64>,
    pub old_key: Option<Value>,
    pub new_key: Option<Value>,
    /// `Some(true)` when both keys parsed and differ without signatures;
    /// `None` when the text was cut before both keys could be read.
    pub diverged: Option<bool>,
}

impl OtkConflict {
    pub fn to_fields(&self, into: &mut Map<String, Value>) {
        into.insert("algorithm".into(), self.algorithm.clone().into());
        into.insert("key_id".into(), self.key_id.clone().into());
        into.insert("key_id_scheme".into(), self.scheme.as_str().into());
        into.insert("counter".into(), self.counter.map(Value::from).unwrap_or(Value::Null));
        into.insert("old_key".into(), self.old_key.clone().unwrap_or(Value::Null));
        into.insert("new_key".into(), self.new_key.clone().unwrap_or(Value::Null));
        into.insert("diverged".into(), self.diverged.map(Value::Bool).unwrap_or(Value::Null));
    }
}

/// Parse the conflict out of any text that contains it: the bare Synapse
/// `error`, the js-sdk's `M_UNKNOWN: MatrixError: [400] … (<url>)` rendering, or
/// the raw JSON body with escaped quotes.
pub fn parse(text: &str) -> Option<OtkConflict> {
    let (full_id, keys) = (text.split_once(HEAD).map(|(_, rest)| rest)?).split_once(TAIL)?;
    let (algorithm, key_id) = full_id.split_once(':')?;
    if algorithm.is_empty() || key_id.is_empty() || full_id.bytes().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let (scheme, counter) = match decode_counter(key_id) {
        Some((s, c)) => (s, Some(c)),
        None => (IdScheme::Unknown, None),
    };
    let (old_key, new_key) = parse_keys(keys)
        .or_else(|| keys.contains("\\\"").then(|| parse_keys(&unescape_json_quotes(keys))).flatten())
        .map(|(o, n)| (Some(o), n))
        .unwrap_or((None, None));
    let diverged = match (&old_key, &new_key) {
        (Some(o), Some(n)) => Some(keys_differ(o, n)),
        _ => None,
    };
    Some(OtkConflict { algorithm: algorithm.into(), key_id: key_id.into(), scheme, counter, old_key, new_key, diverged })
}

/// Old key (JSON) and, if readable, new key (Python repr).
fn parse_keys(keys: &str) -> Option<(Value, Option<Value>)> {
    let old_text = keys.split_once("Old key: ").map(|(_, rest)| rest)?;
    let (old, used) = crate::otk::python_repr::parse_prefix(old_text)?;
    let new = old_text
        .get(used..)
        .and_then(|tail| tail.split_once("new key: ").map(|(_, rest)| rest))
        .and_then(crate::otk::python_repr::parse_prefix)
        .map(|(v, _)| v);
    Some((old, new))
}

/// `\\` -> `\` and `\"` -> `"`, left to right (as `replace` did, through a
/// placeholder: a U+0001 in the text also comes out as `\`).
fn unescape_json_quotes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.clone().next() {
                Some(e @ ('\\' | '"')) => {
                    out.push(e);
                    chars.next();
                }
                _ => out.push(c),
            },
            '\u{1}' => out.push('\\'),
            _ => out.push(c),
        }
    }
    out
}

/// Synapse's conflict rule: two one-time keys are the same when they are equal
/// after dropping `signatures` (non-objects compare as they are). Shared with
/// the triage, which compares the stored row with the client's key.
pub fn keys_differ(old: &Value, new: &Value) -> bool {
    without_signatures(old) != without_signatures(new)
}

fn without_signatures(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("signatures");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SYNAPSE: &str = r#"One time key signed_curve25519:AAAAAQ already exists. Old key: {"key":"KEYONE","signatures":{"@a:hs":{"ed25519:DEV":"s1"}}}; new key: {'key': 'KEYTWO', 'signatures': {'@a:hs': {'ed25519:DEV': 's2'}}}"#;

    #[test]
    fn unescaping_is_the_replace_chain() {
        for s in [r#"a\"b"#, r#"\\""#, r#"\\\""#, r#"\x\"#, "\u{1}\\", r#"{\"key\": \"K\\\\\"}"#, "é\\\"ü", ""] {
            let chain = s.replace("\\\\", "\u{1}").replace("\\\"", "\"").replace('\u{1}', "\\");
            assert_eq!(unescape_json_quotes(s), chain, "{s:?}");
        }
    }

    #[test]
    fn bare_synapse_error() {
        let c = parse(SYNAPSE).unwrap();
        assert_eq!(c.algorithm, "signed_curve25519");
        assert_eq!(c.key_id, "AAAAAQ");
        assert_eq!((c.scheme, c.counter), (IdScheme::Libolm, Some(1)));
        assert_eq!(c.old_key.unwrap()["key"], json!("KEYONE"));
        assert_eq!(c.new_key.unwrap()["key"], json!("KEYTWO"));
        assert_eq!(c.diverged, Some(true));
    }

    #[test]
    fn js_sdk_rendering_with_url() {
        let line = format!(
            "Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] {} (https://hs/_matrix/client/v3/keys/upload)",
            SYNAPSE.replace("AAAAAQ", "AAAAAAAAAA0")
        );
        let c = parse(&line).unwrap();
        assert_eq!((c.scheme, c.counter), (IdScheme::Vodozemac, Some(13)));
        assert_eq!(c.diverged, Some(true));
    }

    #[test]
    fn raw_json_body_with_escaped_quotes() {
        let body = r#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAADI already exists. Old key: {\"key\":\"K1\",\"signatures\":{}}; new key: {'key': 'K2', 'signatures': {}}"}"#;
        let c = parse(body).unwrap();
        assert_eq!(c.counter, Some(50));
        assert_eq!(c.old_key, Some(json!({"key":"K1","signatures":{}})));
        assert_eq!(c.diverged, Some(true));
    }

    #[test]
    fn same_value_different_signatures_is_not_divergence() {
        let t = r#"One time key signed_curve25519:AAAAAAAAAUM already exists. Old key: {"key":"K","signatures":{"x":{"y":"1"}}}; new key: {'key': 'K', 'signatures': {'x': {'y': '2'}}}"#;
        assert_eq!(parse(t).unwrap().diverged, Some(false));
    }

    #[test]
    fn unsigned_string_keys_compare_directly() {
        let t = r#"One time key curve25519:AAAAAQ already exists. Old key: "abc"; new key: 'abd'"#;
        let c = parse(t).unwrap();
        assert_eq!(c.diverged, Some(true));
        assert_eq!(c.counter, Some(1));
    }

    #[test]
    fn truncated_text_keeps_id_and_leaves_divergence_unknown() {
        let t = r#"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"KEYO"#;
        let c = parse(t).unwrap();
        assert_eq!(c.key_id, "AAAAAAAAAA0");
        assert_eq!(c.counter, Some(13));
        assert_eq!(c.old_key, None);
        assert_eq!(c.diverged, None);
        let t2 = r#"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"A"}; new key: {'key': 'B"#;
        let c2 = parse(t2).unwrap();
        assert!(c2.old_key.is_some() && c2.new_key.is_none() && c2.diverged.is_none());
    }

    #[test]
    fn non_otk_already_exists_is_none() {
        for t in [
            "Room alias #a:hs already exists",
            "One time key  already exists",
            "One time key nocolon already exists",
            "User ID already taken",
        ] {
            assert_eq!(parse(t), None, "{t}");
        }
    }

    #[test]
    fn odd_ids_are_kept_without_a_counter() {
        let c = parse("One time key signed_curve25519:my-custom-id already exists.").unwrap();
        assert_eq!((c.scheme, c.counter, c.diverged), (IdScheme::Unknown, None, None));
    }
}
