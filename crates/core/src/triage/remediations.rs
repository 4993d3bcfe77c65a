//! The remediations, least destructive first: a per-device re-login is the first safe step for a
//! confirmed KE-1; a client store reset only if that fails; an SDK pin does not fix KE-1; the
//! server-side row surgery is a last resort under guardrails, never speculative.

use super::forensics::Forensics;
use super::model::{Answer, Remediation};

/// The four remediations, ranked, marked for Q1's answer.
pub fn ranked(q1: Answer, f: Option<&Forensics>) -> Vec<Remediation> {
    let ke1 = q1 == Answer::Yes;
    let pending = "Q1 is not yes: confirm the root condition before any remediation".to_string();
    vec![
        Remediation {
            rank: 1,
            id: "device_relogin",
            title: "Per-device logout + re-login of the affected device",
            blast_radius: "that device only; other sessions and devices untouched",
            applies: ke1,
            first_safe: ke1,
            why: if ke1 { "a new device id gets fresh device keys and a clean one-time-key batch, sidestepping the diverged store; the only real remedy for a device in this state".into() } else { pending.clone() },
            steps: vec![
                "check that key backup is enabled and up to date, and that the recovery key or passphrase is at hand",
                "sign out with the app's Sign out (a server-side logout that deletes the device and its one-time keys)",
                "log in again: a new device id, new identity keys",
                "verify the new device (cross-signing) and restore room keys from backup",
            ],
            guardrails: vec![
                "clearing site data or the crypto store WITHOUT logout keeps the old device id and repeats KE-1",
                "without key backup, history only this device could decrypt is lost",
            ],
        },
        Remediation {
            rank: 2,
            id: "client_store_reset",
            title: "Client crypto-store reset (clearLoginData path)",
            blast_radius: "this browser profile, totally: logged out, sync cache, drafts, settings and the local room-key store",
            applies: ke1,
            first_safe: false,
            why: if ke1 { "only if option 1 did not clear it: the store itself is corrupt; it must end in a real logout, or KE-1 repeats".into() } else { pending.clone() },
            steps: vec!["verify key backup and recovery key first", "sign out (server-side), then clear the profile's storage", "log in and restore from key backup"],
            guardrails: vec!["local room keys are destroyed: anything not in key backup becomes permanently undecryptable", "cross-signing must be re-established"],
        },
        Remediation {
            rank: 3,
            id: "sdk_pin",
            title: "SDK pin change (matrix-js-sdk / crypto-wasm)",
            blast_radius: "every user after the next deploy",
            applies: false,
            first_safe: false,
            why: "closed for KE-1: no released SDK fixes the one-time-key upload loop (matrix-org/matrix-rust-sdk#5200 open); hygiene only".into(),
            steps: vec!["re-read the changelogs for one-time-key / keys-upload entries", "test the rust-crypto IndexedDB schema on downgrade (IDB_VERSION_CONFLICT)"],
            guardrails: vec!["a downgrade can hit the IndexedDB version-conflict path"],
        },
        Remediation {
            rank: 4,
            id: "otk_row_surgery",
            title: "Synapse-side one-time-key row surgery (LAST RESORT)",
            blast_radius: "every device of the user and everyone who claimed one of those keys; easy to get wrong",
            applies: false,
            first_safe: false,
            why: match (ke1, f.map(|f| &f.verdict)) {
                (true, _) => "not recommended: option 1 resolves KE-1 with a far smaller blast radius; only if options 1–2 failed, and only under every guardrail below".into(),
                _ => "never speculatively: Q1 is not yes".into(),
            },
            steps: vec![
                "planning session with the homeserver owner",
                "delete only the exact diverged key_id for the exact user_id and device_id",
                "restart Synapse to flush its one-time-key count caches",
                "then log the device out and in (option 1) so it republishes",
            ],
            guardrails: vec![
                "full database backup first (pg_dump of synapse)",
                "during zero active calls",
                "exact key_id + device_id only — never a broad DELETE",
                "restart Synapse afterwards (cached counts otherwise stay wrong and worsen the loop)",
                "never run speculatively",
            ],
        },
    ]
}
