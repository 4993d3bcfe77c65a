//! What the server holds for a device's identity, as KE-2 evidence: the curve25519 and ed25519
//! keys its `e2e_device_keys_json` row advertises, and how many of its stored one-time keys
//! verify against that ed25519. Peers encrypt call keys for the curve25519 key they hold for the
//! device; a one-time key signed by an identity the device lost fails the claimer's signature
//! check, so no Olm session can be built to the device (matrix-org/matrix-rust-sdk
//! crates/matrix-sdk-crypto/src/session_manager/sessions.rs).

use super::facts::OtkRow;
use super::forensics::{signed_by, Candidate, SignatureCheck};
use serde_json::Value;

/// One-time keys checked at most per device (a flooded device holds hundreds).
const MAX_CHECKED: usize = 200;

/// The identity keys a device-keys row advertises.
pub(crate) struct Advertised {
    /// `curve25519:DEVICE`.
    pub curve25519: Option<String>,
    /// `ed25519:DEVICE`.
    pub ed25519: Option<String>,
}

/// The keys of `device_keys` (a `key_json` object) for `device`.
pub(crate) fn advertised(device_keys: &Value, device: &str) -> Advertised {
    let key = |alg: &str| device_keys.get("keys")?.get(format!("{alg}:{device}"))?.as_str().map(String::from);
    Advertised { curve25519: key("curve25519"), ed25519: key("ed25519") }
}

/// How a device's stored `signed_curve25519` one-time keys check against one ed25519 key.
pub(crate) struct OtkCheck {
    /// Keys checked.
    pub checked: usize,
    /// Of those, keys whose signature verifies.
    pub verified: usize,
    /// `signed_curve25519` keys stored in all.
    pub stored: usize,
}

/// Checks up to [`MAX_CHECKED`] of `rows` against `ed25519`; `None` when no key could be checked.
pub(crate) fn check_otks(rows: &[OtkRow], device: (&str, &str), ed25519: &str, check: &dyn SignatureCheck) -> Option<OtkCheck> {
    let signed: Vec<&OtkRow> = rows.iter().filter(|o| o.algorithm == "signed_curve25519").collect();
    let cand = [Candidate { label: "advertised".into(), ed25519: ed25519.to_string() }];
    let (mut checked, mut verified) = (0, 0);
    for row in signed.iter().take(MAX_CHECKED) {
        let Ok(key) = serde_json::from_str::<Value>(&row.key_json) else { continue };
        let Ok(signers) = signed_by(&key, device, &cand, check) else { continue };
        checked += 1;
        verified += usize::from(!signers.is_empty());
    }
    (checked > 0).then_some(OtkCheck { checked, verified, stored: signed.len() })
}

/// The check in words, for evidence: what it means for a device that claims one of the keys.
pub(crate) fn describe(c: &OtkCheck, ed25519: &str) -> String {
    let of = if c.checked < c.stored { format!(" (of {} stored)", c.stored) } else { String::new() };
    let meaning = if c.verified == 0 {
        "all were signed by another identity, one the device no longer has: a peer that claims one cannot verify it and builds no Olm session"
    } else if c.verified < c.checked {
        "some were signed by another identity: a peer that claims one of those builds no Olm session"
    } else {
        "a peer that claims one can build an Olm session"
    };
    format!(
        "{} of {} signed_curve25519 one-time key(s){of} verify against the advertised ed25519 {ed25519}: {meaning}",
        c.verified, c.checked
    )
}
