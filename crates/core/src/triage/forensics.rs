//! KE-1 forensics: whose identity signed the one-time key the server holds?
//!
//! A one-time key object is signed by the device's Ed25519 identity over its canonical JSON
//! (sorted keys, no whitespace, without `signatures` and `unsigned`). Checking the server's old
//! key and the client's new key against every identity key we know tells the two causes apart:
//! - the old key verifies with the identity that is uploading now: one account, two writers
//!   (e.g. two tabs) — one rolled the other's key counter back (concurrent writer);
//! - it does not: a previous account under the same device id (store reset or eviction).
//!
//! The signature check itself is the caller's ([`SignatureCheck`]): the core carries no crypto.

use super::proof::Proof;
use super::Inputs;
use serde_json::{json, Value};
use std::fmt;

/// An identity key we can test against, and where we learnt it.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Where it was learnt.
    pub label: String,
    /// The Ed25519 public key, unpadded base64.
    pub ed25519: String,
}

/// Checks Ed25519 signatures (the CLI does it with vodozemac).
pub trait SignatureCheck {
    /// The labels of the `candidates` whose key verifies `signature` (unpadded base64) over
    /// `message`; an error when `signature` is not an Ed25519 signature at all.
    fn signers(&self, message: &[u8], signature: &str, candidates: &[Candidate]) -> Result<Vec<String>, SignatureError>;
}

/// Why a key's signature could not be checked.
#[derive(Clone, Debug, PartialEq)]
pub enum SignatureError {
    /// The key object has no signature by the device.
    Missing {
        /// The user.
        user: String,
        /// The device.
        device: String,
    },
    /// The signature is not Ed25519 base64 (the decoder's words).
    NotEd25519(String),
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::Missing { user, device } => write!(f, "no signature by {user} ed25519:{device} on the key"),
            SignatureError::NotEd25519(e) => write!(f, "signature is not valid Ed25519 base64: {e}"),
        }
    }
}

impl std::error::Error for SignatureError {}

/// The forensics' answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The old key was signed by the identity uploading now.
    ConcurrentWriter,
    /// The old key was signed by another identity.
    PreviousIdentity,
    /// The uploading identity is not known.
    Unknown,
}

impl Verdict {
    /// The JSON and text spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::ConcurrentWriter => "concurrent_writer",
            Verdict::PreviousIdentity => "previous_identity",
            Verdict::Unknown => "unknown",
        }
    }
}

/// The signature checks and their verdict.
#[derive(Clone, Debug)]
pub struct Forensics {
    /// The conflicting key id.
    pub key_id: String,
    /// Where the server's key was read.
    pub old_key_source: String,
    /// Candidates that signed the server's key.
    pub old_signed_by: Vec<String>,
    /// Candidates that signed the client's key.
    pub new_signed_by: Vec<String>,
    /// The identity uploading now (signer of the new key), when one candidate verifies it.
    pub current: Option<Candidate>,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict, in words.
    pub explanation: String,
    /// Every identity checked.
    pub checked: Vec<Candidate>,
    /// Notes (keys that could not be checked, the key counter).
    pub notes: Vec<String>,
}

impl Forensics {
    /// The `--json` shape.
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
pub fn signed_by(
    obj: &Value,
    (user, device): (&str, &str),
    candidates: &[Candidate],
    check: &dyn SignatureCheck,
) -> Result<Vec<String>, SignatureError> {
    let sig = obj
        .get("signatures")
        .and_then(|s| s.get(user))
        .and_then(|s| s.get(format!("ed25519:{device}")))
        .and_then(Value::as_str)
        .ok_or_else(|| SignatureError::Missing { user: user.into(), device: device.into() })?;
    let mut unsigned = obj.clone();
    if let Value::Object(m) = &mut unsigned {
        m.remove("signatures");
        m.remove("unsigned");
    }
    check.signers(canonical_json(&unsigned).as_bytes(), sig, candidates)
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

/// The server's key (where it was read) and the client's, for one key id of one device.
pub struct KeyPair<'a> {
    /// The conflicting key id.
    pub key_id: &'a str,
    /// The server's stored key.
    pub old_key: &'a Value,
    /// Where it was read.
    pub old_source: &'a str,
    /// The client's key, when known.
    pub new_key: Option<&'a Value>,
    /// (user, device).
    pub device: (&'a str, &'a str),
}

/// Checks both keys against every candidate and gives the verdict.
pub fn analyse(keys: &KeyPair, candidates: Vec<Candidate>, check: &dyn SignatureCheck) -> Forensics {
    let checked = dedup(candidates);
    let mut notes = Vec::new();
    let mut signers = |which: &str, key: &Value| {
        signed_by(key, keys.device, &checked, check).unwrap_or_else(|e| {
            notes.push(format!("{which}: {e}"));
            Vec::new()
        })
    };
    let old_signed_by = signers("old key", keys.old_key);
    let new_signed_by = match keys.new_key {
        Some(n) => signers("new key", n),
        None => {
            notes.push("the client's new key is not known (the 400 text was cut or not captured)".into());
            Vec::new()
        }
    };
    let current = checked.iter().find(|c| new_signed_by.contains(&c.label)).cloned();
    let (verdict, explanation) = verdict(keys.key_id, current.as_ref(), &old_signed_by);
    Forensics {
        key_id: keys.key_id.into(),
        old_key_source: keys.old_source.into(),
        old_signed_by,
        new_signed_by,
        current,
        verdict,
        explanation,
        checked,
        notes,
    }
}

fn verdict(key_id: &str, current: Option<&Candidate>, old_signed_by: &[String]) -> (Verdict, String) {
    match (current, old_signed_by.is_empty()) {
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
    }
}

/// The forensics for the proof's key: the stored row (else the 400's quote) as the server's
/// key, every identity the database and the report know as candidates. `None` (with a note)
/// when no identity is known; `None` without a subject or a server key.
pub fn ke1(i: &Inputs, p: &Proof, notes: &mut Vec<String>) -> Option<Forensics> {
    let (user, device) = i.device()?;
    let c = &p.conflict;
    let row = i
        .db_table(|d| d.otks.as_deref())
        .and_then(|(db, rows)| Some((db, rows.iter().find(|o| o.algorithm == c.algorithm && o.key_id == c.key_id)?)));
    let (old, old_src) = match row.and_then(|(db, r)| Some((serde_json::from_str::<Value>(&r.key_json).ok()?, db))) {
        Some((v, db)) => (v, format!("{db} e2e_one_time_keys_json")),
        None => (c.old_key.clone()?, format!("{} (Synapse's 400 quotes its stored key)", p.source)),
    };
    let cands = candidates(i, device, notes);
    if cands.is_empty() {
        notes.push(
            "KE-1 forensics skipped: no identity key known (no device keys in the database, no otkHealth.identity in the report)".into(),
        );
        return None;
    }
    let keys = KeyPair { key_id: &c.key_id, old_key: &old, old_source: &old_src, new_key: c.new_key.as_ref(), device: (user, device) };
    let mut f = analyse(&keys, cands, i.signatures);
    if f.current.as_ref().is_some_and(|c| c.label.contains("e2e_device_keys_json")) && f.verdict == Verdict::PreviousIdentity {
        f.notes.push("the server already advertises the new identity: Synapse stores device_keys before checking one-time keys, so the failing upload replaced them; peers holding the old one-time keys will fail to verify them".into());
    }
    if let Some(n) = c.counter {
        let what = if n < 100 {
            "a first batch — the account was created anew"
        } else {
            "mid-range — an account that had published many keys"
        };
        f.notes.push(format!("key counter {n}: {what}"));
    }
    Some(f)
}

/// The identity keys known for the device: the server's current device keys, the report's.
fn candidates(i: &Inputs, device: &str, notes: &mut Vec<String>) -> Vec<Candidate> {
    let mut cands = Vec::new();
    if let Some((db, Some(dk))) = i.db.and_then(|d| Some((d.source.as_str(), d.device_keys.as_ref()?))) {
        match dk.get("keys").and_then(|k| k.get(format!("ed25519:{device}"))).and_then(Value::as_str) {
            Some(k) => cands
                .push(Candidate { label: format!("{db} e2e_device_keys_json (the server's current device keys)"), ed25519: k.to_string() }),
            None => notes.push("the server's device keys have no ed25519 key for the device".into()),
        }
    }
    for (label, k) in i.report.identities() {
        cands.push(Candidate { label, ed25519: k });
    }
    cands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_and_compacts() {
        assert_eq!(canonical_json(&json!({"b": 1, "a": {"d": [1, "x"], "c": null}})), r#"{"a":{"c":null,"d":[1,"x"]},"b":1}"#);
    }
}
