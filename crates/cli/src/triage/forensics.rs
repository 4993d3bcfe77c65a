//! KE-1 forensics: whose identity signed the one-time key the server holds?
//!
//! A one-time key object is signed by the device's Ed25519 identity over its canonical JSON
//! (sorted keys, no whitespace, without `signatures` and `unsigned`). Checking the server's old
//! key and the client's new key against every identity key we know tells the two causes apart:
//! - the old key verifies with the identity that is uploading now: one account, two writers
//!   (e.g. two tabs) — one rolled the other's key counter back (concurrent writer);
//! - it does not: a previous account under the same device id (store reset or eviction).

use serde_json::{json, Value};
use vodozemac::{Ed25519PublicKey, Ed25519Signature};

/// An identity key we can test against, and where we learnt it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub label: String,
    pub ed25519: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    ConcurrentWriter,
    PreviousIdentity,
    Unknown,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::ConcurrentWriter => "concurrent_writer",
            Verdict::PreviousIdentity => "previous_identity",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Forensics {
    pub key_id: String,
    pub old_key_source: String,
    pub old_signed_by: Vec<String>,
    pub new_signed_by: Vec<String>,
    /// The identity uploading now (signer of the new key), when one candidate verifies it.
    pub current: Option<Candidate>,
    pub verdict: Verdict,
    pub explanation: String,
    pub checked: Vec<Candidate>,
    pub notes: Vec<String>,
}

impl Forensics {
    pub fn to_json(&self) -> Value {
        json!({
            "keyId": self.key_id,
            "oldKeySource": self.old_key_source,
            "oldKeySignedBy": self.old_signed_by,
            "newKeySignedBy": self.new_signed_by,
            "currentIdentity": self.current.as_ref().map(|c| json!({"ed25519": c.ed25519, "source": c.label})),
            "verdict": self.verdict.as_str(),
            "explanation": self.explanation,
            "identitiesChecked": self.checked.iter().map(|c| json!({"ed25519": c.ed25519, "source": c.label})).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }
}

/// Matrix canonical JSON: object keys sorted by code point, no whitespace.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap_or_default()),
    }
}

/// Which candidates verify `obj`'s signature by `user`'s `ed25519:device`.
/// Err when the object carries no such signature.
pub fn signed_by(obj: &Value, user: &str, device: &str, candidates: &[Candidate]) -> Result<Vec<String>, String> {
    let sig = obj
        .get("signatures")
        .and_then(|s| s.get(user))
        .and_then(|s| s.get(format!("ed25519:{device}")))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no signature by {user} ed25519:{device} on the key"))?;
    let sig = Ed25519Signature::from_base64(sig).map_err(|e| format!("signature is not valid Ed25519 base64: {e}"))?;
    let mut unsigned = obj.clone();
    if let Value::Object(m) = &mut unsigned {
        m.remove("signatures");
        m.remove("unsigned");
    }
    let msg = canonical_json(&unsigned);
    Ok(candidates
        .iter()
        .filter(|c| Ed25519PublicKey::from_base64(&c.ed25519).is_ok_and(|k| k.verify(msg.as_bytes(), &sig).is_ok()))
        .map(|c| c.label.clone())
        .collect())
}

/// Candidates with the same key folded into one (labels joined).
pub fn dedup(cands: Vec<Candidate>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for c in cands {
        match out.iter_mut().find(|o| o.ed25519 == c.ed25519) {
            Some(o) => o.label = format!("{} = {}", o.label, c.label),
            None => out.push(c),
        }
    }
    out
}

pub fn analyse(
    key_id: &str,
    old_key: &Value,
    old_source: &str,
    new_key: Option<&Value>,
    user: &str,
    device: &str,
    candidates: Vec<Candidate>,
) -> Forensics {
    let checked = dedup(candidates);
    let mut notes = Vec::new();
    let old_signed_by = signed_by(old_key, user, device, &checked).unwrap_or_else(|e| {
        notes.push(format!("old key: {e}"));
        Vec::new()
    });
    let new_signed_by = match new_key {
        Some(n) => signed_by(n, user, device, &checked).unwrap_or_else(|e| {
            notes.push(format!("new key: {e}"));
            Vec::new()
        }),
        None => {
            notes.push("the client's new key is not known (the 400 text was cut or not captured)".into());
            Vec::new()
        }
    };
    let current = checked.iter().find(|c| new_signed_by.contains(&c.label)).cloned();
    let (verdict, explanation) = match (&current, old_signed_by.is_empty()) {
        (Some(cur), false) if old_signed_by.contains(&cur.label) => (
            Verdict::ConcurrentWriter,
            format!("the server's key {key_id} was signed by the identity that is uploading now ({}): one account, two writers on one store (e.g. two tabs) — one rolled the other's key counter back", cur.ed25519),
        ),
        (Some(cur), false) => (
            Verdict::PreviousIdentity,
            format!("the server's key {key_id} was signed by {} — not by the identity uploading now ({}): a previous account under the same device id (crypto store reset or evicted)", old_signed_by.join(", "), cur.ed25519),
        ),
        (Some(cur), true) => (
            Verdict::PreviousIdentity,
            format!("the server's key {key_id} does not verify with the identity uploading now ({}) nor with any other identity known here: it was signed by a previous account under the same device id (crypto store reset or evicted), whose identity key is gone", cur.ed25519),
        ),
        (None, _) => (
            Verdict::Unknown,
            "no known identity verifies the client's new key, so the uploading identity is unknown: give a report with otkHealth.identity, or the database with the device's keys".to_string(),
        ),
    };
    Forensics {
        key_id: key_id.into(),
        old_key_source: old_source.into(),
        old_signed_by,
        new_signed_by,
        current,
        verdict,
        explanation,
        checked,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vodozemac::Ed25519SecretKey;

    fn signed(sk: &Ed25519SecretKey, key: &str, user: &str, device: &str) -> Value {
        let obj = json!({"key": key});
        let sig = sk.sign(canonical_json(&obj).as_bytes()).to_base64();
        json!({"key": key, "signatures": {user: {format!("ed25519:{device}"): sig}}})
    }

    #[test]
    fn canonical_sorts_and_compacts() {
        assert_eq!(canonical_json(&json!({"b": 1, "a": {"d": [1, "x"], "c": null}})), r#"{"a":{"c":null,"d":[1,"x"]},"b":1}"#);
    }

    #[test]
    fn tells_previous_identity_from_concurrent_writer() {
        let (old_sk, new_sk) = (Ed25519SecretKey::new(), Ed25519SecretKey::new());
        let (u, d) = ("@a:hs", "DEV");
        let old = signed(&old_sk, "K1", u, d);
        let new = signed(&new_sk, "K2", u, d);
        let server = Candidate { label: "server".into(), ed25519: new_sk.public_key().to_base64() };

        let f = analyse("AAAAAAAAAA0", &old, "db", Some(&new), u, d, vec![server.clone()]);
        assert_eq!(f.verdict, Verdict::PreviousIdentity);
        assert!(f.old_signed_by.is_empty() && f.new_signed_by == vec!["server".to_string()]);

        let prev = Candidate { label: "report previous".into(), ed25519: old_sk.public_key().to_base64() };
        let f = analyse("AAAAAAAAAA0", &old, "db", Some(&new), u, d, vec![server.clone(), prev]);
        assert_eq!((f.verdict, f.old_signed_by), (Verdict::PreviousIdentity, vec!["report previous".to_string()]));

        // Same account wrote both keys: a concurrent writer.
        let old_same = signed(&new_sk, "K1", u, d);
        let f = analyse("AAAAAAAAAA0", &old_same, "db", Some(&new), u, d, vec![server.clone()]);
        assert_eq!(f.verdict, Verdict::ConcurrentWriter);

        // Tampered key: the signature no longer verifies with anyone.
        let mut bad = old_same.clone();
        bad["key"] = json!("K9");
        assert!(signed_by(&bad, u, d, std::slice::from_ref(&server)).unwrap().is_empty());
        // No new key, nothing verifies it: unknown.
        let f = analyse("AAAAAAAAAA0", &old, "db", None, u, d, vec![server]);
        assert_eq!(f.verdict, Verdict::Unknown);
    }
}
