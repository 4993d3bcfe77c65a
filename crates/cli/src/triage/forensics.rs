//! The KE-1 forensics' Ed25519 checks, with vodozemac (as the Matrix clients do them); the
//! verdict is the core's (`crypto_health_core::triage::forensics`).

use crypto_health_core::triage::forensics::{Candidate, SignatureCheck, SignatureError};
use vodozemac::{Ed25519PublicKey, Ed25519Signature};

/// Ed25519 verification by vodozemac.
pub(super) struct Vodozemac;

impl SignatureCheck for Vodozemac {
    fn signers(&self, message: &[u8], signature: &str, candidates: &[Candidate]) -> Result<Vec<String>, SignatureError> {
        let sig = Ed25519Signature::from_base64(signature).map_err(|e| SignatureError::NotEd25519(e.to_string()))?;
        Ok(candidates
            .iter()
            .filter(|c| Ed25519PublicKey::from_base64(&c.ed25519).is_ok_and(|k| k.verify(message, &sig).is_ok()))
            .map(|c| c.label.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_health_core::triage::forensics::{analyse, canonical_json, signed_by, KeyPair, Verdict};
    use serde_json::{json, Value};
    use vodozemac::Ed25519SecretKey;

    fn signed(sk: &Ed25519SecretKey, key: &str, user: &str, device: &str) -> Value {
        let obj = json!({"key": key});
        let sig = sk.sign(canonical_json(&obj).as_bytes()).to_base64();
        json!({"key": key, "signatures": {user: {format!("ed25519:{device}"): sig}}})
    }

    #[test]
    fn tells_previous_identity_from_concurrent_writer() {
        let (old_sk, new_sk) = (Ed25519SecretKey::new(), Ed25519SecretKey::new());
        let (u, d) = ("@a:hs", "DEV");
        let old = signed(&old_sk, "K1", u, d);
        let new = signed(&new_sk, "K2", u, d);
        let server = Candidate { label: "server".into(), ed25519: new_sk.public_key().to_base64() };
        let analyse = |old: &Value, new: Option<&Value>, cands: Vec<Candidate>| {
            analyse(&KeyPair { key_id: "AAAAAAAAAA0", old_key: old, old_source: "db", new_key: new, device: (u, d) }, cands, &Vodozemac)
        };

        let f = analyse(&old, Some(&new), vec![server.clone()]);
        assert_eq!(f.verdict, Verdict::PreviousIdentity);
        assert!(f.old_signed_by.is_empty() && f.new_signed_by == vec!["server".to_string()]);

        let prev = Candidate { label: "report previous".into(), ed25519: old_sk.public_key().to_base64() };
        let f = analyse(&old, Some(&new), vec![server.clone(), prev]);
        assert_eq!((f.verdict, f.old_signed_by), (Verdict::PreviousIdentity, vec!["report previous".to_string()]));

        // Same account wrote both keys: a concurrent writer.
        let old_same = signed(&new_sk, "K1", u, d);
        let f = analyse(&old_same, Some(&new), vec![server.clone()]);
        assert_eq!(f.verdict, Verdict::ConcurrentWriter);

        // Tampered key: the signature no longer verifies with anyone.
        let mut bad = old_same.clone();
        bad["key"] = json!("K9");
        assert!(signed_by(&bad, (u, d), std::slice::from_ref(&server), &Vodozemac).unwrap().is_empty());
        // No new key, nothing verifies it: unknown.
        let f = analyse(&old, None, vec![server]);
        assert_eq!(f.verdict, Verdict::Unknown);
    }

    #[test]
    fn unreadable_signatures_become_notes() {
        let sk = Ed25519SecretKey::new();
        let cand = vec![Candidate { label: "server".into(), ed25519: sk.public_key().to_base64() }];
        let missing = json!({"key": "K"});
        let garbled = json!({"key": "K", "signatures": {"@a:hs": {"ed25519:DEV": "not base64!"}}});
        let keys = KeyPair { key_id: "K", old_key: &missing, old_source: "db", new_key: Some(&garbled), device: ("@a:hs", "DEV") };
        let f = analyse(&keys, cand, &Vodozemac);
        assert_eq!(f.notes[0], "old key: no signature by @a:hs ed25519:DEV on the key");
        assert!(f.notes[1].starts_with("new key: signature is not valid Ed25519 base64: "), "{}", f.notes[1]);
        assert_eq!(f.verdict, Verdict::Unknown);
    }
}
