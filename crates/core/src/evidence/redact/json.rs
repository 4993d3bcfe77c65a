//! Redaction of JSON values (extracted fields, finding evidence, what the app
//! hands over as `extra`): the value under a secret name goes whole (any
//! type; an object or array too, unless the name's word is an everyday one
//! such as `key`, whose members then decide), byte arrays go, every other
//! string is redacted as text and capped, so no stored string escapes.

use super::names::secret_name;
use super::scan::Scan;
use super::{RedactionCounts, SecretKind};
use crate::support::text::truncate_marked;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Redact a JSON value in place (maps keep their order).
pub fn redact_value(v: &mut Value, counts: &mut RedactionCounts) {
    redact_value_public(v, counts, usize::MAX, &[]);
}

/// [`redact_value`], and every string cut to `max` bytes with a visible mark.
pub fn redact_value_capped(v: &mut Value, counts: &mut RedactionCounts, max: usize) {
    redact_value_public(v, counts, max, &[]);
}

/// [`redact_value_capped`], keeping the exact strings in `public`.
pub fn redact_value_public(v: &mut Value, counts: &mut RedactionCounts, max: usize, public: &[&str]) {
    match v {
        Value::String(s) => {
            let red = Scan::new(s, counts, public).run().0;
            let (cut, truncated) = truncate_marked(&red, max);
            if truncated || cut != *s {
                *s = cut;
            }
        }
        Value::Array(a) => {
            if is_byte_array(a.iter()) {
                *v = masked(counts, SecretKind::KeyMaterial, v);
                return;
            }
            a.iter_mut().for_each(|x| redact_value_public(x, counts, max, public));
        }
        Value::Object(m) => {
            if m.len() >= 8 && m.keys().all(|k| k.bytes().all(|c| c.is_ascii_digit())) && is_byte_array(m.values()) {
                *v = masked(counts, SecretKind::KeyMaterial, v);
                return;
            }
            redact_object(m, counts, max, public);
        }
        _ => {}
    }
}

fn redact_object(m: &mut Map<String, Value>, counts: &mut RedactionCounts, max: usize, public: &[&str]) {
    // Keys are text too: a parsed Python repr can hold a secret in one
    // (`{'sig Authorization: Bearer …': {}}`).
    let renamed: Vec<(String, String)> = m
        .keys()
        .filter_map(|k| match Scan::new(k, counts, public).run().0 {
            Cow::Owned(r) => Some((k.clone(), truncate_marked(&r, max).0)),
            Cow::Borrowed(_) => None,
        })
        .collect();
    for (old, new) in renamed {
        if let Some(x) = m.remove(&old) {
            m.insert(new, x);
        }
    }
    // HAR, form fields: `{"name": "access_token", "value": "…"}`.
    let named = ["name", "key"].iter().find_map(|n| m.get(*n).and_then(Value::as_str).and_then(|s| secret_name(s.as_bytes())));
    for (k, x) in m.iter_mut() {
        let secret = if k == "value" { named } else { secret_name(k.as_bytes()) };
        match (secret, &*x) {
            (None, _) | (Some(_), Value::Null | Value::Bool(_)) => redact_value_public(x, counts, max, public),
            (Some((_, true)), Value::Object(_) | Value::Array(_)) => redact_value_public(x, counts, max, public),
            (Some((_, weak)), Value::String(s)) if public.contains(&s.as_str()) || (weak && plain(s)) => {}
            (Some((_, true)), Value::Number(n)) if n.as_u64().is_some_and(|n| n < 1_000_000) => {}
            (Some((kind, _)), _) => *x = masked(counts, kind, x),
        }
    }
}

/// The mask for a whole value (fingerprinted over its JSON text).
fn masked(counts: &mut RedactionCounts, kind: SecretKind, v: &Value) -> Value {
    let text = match v {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    };
    let mut out = String::new();
    counts.mask(kind, text.as_bytes(), &mut out);
    Value::String(out)
}

/// More than a few integers 0-255: bytes (`[183, 12, …]`, a `Uint8Array`).
fn is_byte_array<'a>(mut items: impl ExactSizeIterator<Item = &'a Value>) -> bool {
    items.len() >= 8 && items.all(|x| x.as_u64().is_some_and(|n| n <= 255))
}

/// A plain word or small number under an everyday name (`"code": "ok"`).
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 24
        && s.bytes().all(|c| c.is_ascii_alphabetic() || c == b'_')
        && !s.bytes().skip(1).any(|c| c.is_ascii_uppercase())
}

/// Values a KE parser extracted and knows to be public, to keep wherever
/// they appear: a KE-1 proof's `old_key` / `new_key` `key` and `signatures`
/// (public one-time keys and their signatures), the key id, and values under names
/// that name a public-key algorithm (`previousEd25519`, `curve25519`).
#[must_use]
pub fn public_values(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Value::Object(m) = v {
        for (k, x) in m {
            let lower = k.to_ascii_lowercase();
            if matches!(lower.as_str(), "old_key" | "new_key" | "oldkey" | "newkey") {
                // A one-time key object: its `key` and its `signatures`, nothing else it may hold.
                for member in ["key", "signatures"] {
                    if let Some(v) = x.get(member) {
                        leaves(v, &mut out);
                    }
                }
            } else if matches!(lower.as_str(), "key_id" | "keyid") || lower.contains("25519") {
                leaves(x, &mut out);
            }
        }
    }
    out
}

fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        // Only key-shaped strings: a "key" that holds text is not a key.
        Value::String(s) if out.len() < 32 && key_shaped(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

/// One base64 (or key id) token: what a public key, a signature or a key id looks like.
fn key_shaped(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty() && s.len() <= 128 && body.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'_' | b'-'))
}
