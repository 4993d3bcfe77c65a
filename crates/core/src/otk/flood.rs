//! The one-time-key flood: a client that uploads a fresh batch of one-time
//! keys on almost every `/sync` although the server already holds enough.
//!
//! matrix-rust-sdk #6780 (in matrix-sdk-crypto-wasm 18.5.0) reads a missing
//! one-time-key count in `receive_sync_changes` as 0; matrix-js-sdk before its
//! single-call fix (matrix-org/matrix-js-sdk#5503) called `receiveSyncChanges`
//! up to three times per `/sync`, twice without counts, so the machine tops up
//! to its target after nearly every sync (matrix-org/matrix-js-sdk#5501).
//! Synapse since element-hq/synapse#20162 refuses uploads once a device holds
//! more than 500 keys. The keys and the device identity are sound (this is not
//! KE-1): the remedy is a client with both fixes.
//!
//! Evidence, all from HTTP: uploads carrying one-time keys that the server
//! accepted while the last `/sync` already reported the SDK's target or more;
//! the server-side count growing in the upload answers past what a correct
//! client ever asks for; Synapse's refusal once it caps.

use crate::report::finding::{Finding, Level};
use crate::support::obj;
use crate::support::text::{head, iso8601};
use serde::{Deserialize, Serialize};

/// The count matrix-sdk-crypto tops the server up to: `generate_one_time_keys_if_needed`
/// (matrix-org/matrix-rust-sdk crates/matrix-sdk-crypto/src/olm/account.rs) generates
/// keys only while the server's count is below `max_one_time_keys()`, vodozemac's
/// `PUBLIC_MAX_ONE_TIME_KEYS` (50, matrix-org/vodozemac src/olm/account/mod.rs).
pub const SDK_TARGET: u64 = 50;
/// Synapse refuses one-time-key uploads for a device holding more than this (element-hq/synapse#20162).
pub const SYNAPSE_CAP: u64 = 500;
/// Accepted uploads over target before the flood is called (one can be a race
/// between a claim, the sync that reported it and the upload).
pub const EXCESS_UPLOADS: u64 = 2;
/// A server count above this can only come from uploads past the target.
pub const GROWTH_LIMIT: u64 = 2 * SDK_TARGET;
/// The client versions that fix it, named in the finding.
pub const FIXED_IN: &str =
    "matrix-js-sdk 42.4.0 or later (one receiveSyncChanges call per sync, #5503; it needs matrix-sdk-crypto-wasm 18.7.0+)";
const MAX_TEXT: usize = 512;

/// Does a refused keys/upload answer say the device would hold too many one-time
/// keys? Synapse (element-hq/synapse synapse/handlers/e2e_keys.py, #20162): `400
/// M_TOO_LARGE` "Uploading 50 more signed_curve25519 one-time keys would leave the
/// device holding 550, over the limit of 500".
pub fn is_cap_refusal(errcode: Option<&str>, error: &str) -> bool {
    errcode == Some("M_TOO_LARGE") && error.contains("one-time keys would leave the device holding")
}

/// What the flood detector saw; part of `otkHealth` as `flood`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FloodState {
    /// The SDK's target ([`SDK_TARGET`]); 0 while nothing was seen.
    pub target: u64,
    /// `/sync` answers read with a one-time-key count.
    pub syncs_with_counts: u64,
    /// The signed curve25519 count of the last `/sync` that had counts.
    pub last_sync_count: Option<u64>,
    /// Uploads that carried one-time keys.
    pub uploads_with_keys: u64,
    /// Of those, accepted while the last `/sync` reported the target or more.
    pub excess_uploads: u64,
    /// One-time keys those excess uploads carried.
    pub excess_keys: u64,
    /// The server-side count in the first accepted upload's answer.
    pub first_server_count: Option<u64>,
    /// In the last one.
    pub server_count: Option<u64>,
    /// The highest seen.
    pub max_server_count: Option<u64>,
    /// Uploads the server refused for holding too many keys.
    pub refusals: u64,
    /// The server's words in the last refusal (cut at 512 bytes).
    pub refusal: Option<String>,
    /// When the detector first called it a flood.
    pub flooding_since: Option<u64>,
}

/// An upload on its way: what it carried, and what the last `/sync` said then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pending {
    keys: u64,
    sync_count: Option<u64>,
}

/// The flood detector for the session's device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flood {
    /// What was seen so far.
    pub state: FloodState,
    pending: Option<Pending>,
}

impl Flood {
    /// A `/sync` answer with (`Some`) or without a signed curve25519 count.
    pub fn sync(&mut self, count: Option<u64>) {
        if count.is_some() {
            self.state.syncs_with_counts += 1;
            self.state.last_sync_count = count;
        }
        self.state.target = SDK_TARGET;
    }

    /// An upload leaves with `keys` one-time keys.
    pub fn upload(&mut self, keys: usize) {
        let keys = keys as u64;
        self.state.uploads_with_keys += u64::from(keys > 0);
        self.state.target = SDK_TARGET;
        self.pending = Some(Pending { keys, sync_count: self.state.last_sync_count });
    }

    /// The server accepted an upload and now holds `count` signed curve25519 keys
    /// (`None`: the answer had no count). Returns the finding when this makes it a flood.
    pub fn accepted(&mut self, count: Option<u64>, now: u64) -> Option<Finding> {
        if let Some(p) = self.pending.take() {
            if p.keys > 0 && p.sync_count.is_some_and(|c| c >= SDK_TARGET) {
                self.state.excess_uploads += 1;
                self.state.excess_keys += p.keys;
            }
        }
        self.state.target = SDK_TARGET;
        if let Some(n) = count {
            self.state.first_server_count.get_or_insert(n);
            self.state.server_count = Some(n);
            self.state.max_server_count = Some(self.state.max_server_count.map_or(n, |m| m.max(n)));
        }
        self.assess(now)
    }

    /// The server refused an upload for holding too many keys (its `error` text).
    pub fn refused(&mut self, error: &str, now: u64) -> Option<Finding> {
        self.pending = None;
        self.state.refusals += 1;
        self.state.refusal = Some(head(error, MAX_TEXT).to_owned());
        self.state.target = SDK_TARGET;
        self.assess(now)
    }

    /// Any other answer to an upload: it carried nothing we count.
    pub fn other_answer(&mut self) {
        self.pending = None;
    }

    /// Is this device flooding the server with one-time keys?
    pub fn flooding(&self) -> bool {
        let s = &self.state;
        s.excess_uploads >= EXCESS_UPLOADS || s.max_server_count.is_some_and(|m| m > GROWTH_LIMIT) || s.refusals > 0
    }

    /// The state as `otkHealth.flood` shows it: `None` while nothing was seen.
    pub fn report(&self) -> Option<FloodState> {
        // Every observation sets the target: zero means nothing was seen yet.
        (self.state.target > 0).then(|| self.state.clone())
    }

    /// The finding, once per flood (later calls refresh the one kept by id).
    fn assess(&mut self, now: u64) -> Option<Finding> {
        if !self.flooding() {
            return None;
        }
        self.state.flooding_since.get_or_insert(now);
        Some(self.finding(now))
    }

    /// The finding for the current state: what happens, why, and the fix.
    pub fn finding(&self, now: u64) -> Finding {
        let s = &self.state;
        let since = s.flooding_since.unwrap_or(now);
        let critical = s.refusals > 0 || s.max_server_count.is_some_and(|m| m > SYNAPSE_CAP);
        Finding {
            id: "otk_flood".into(),
            ke: None,
            level: if critical { Level::Critical } else { Level::Warning },
            title: "one-time-key flood: a new batch of keys uploaded on almost every sync".into(),
            detail: format!(
                "{} uploads were accepted although /sync already reported {SDK_TARGET}+ keys; the server's count reached {}; \
                 {} uploads refused as over the server's limit. matrix-sdk-crypto-wasm 18.5+ with an older matrix-js-sdk \
                 (matrix-org/matrix-js-sdk#5501). Device and keys are sound: signing out does not help. Upgrade to {FIXED_IN}. \
                 Until then peers may claim keys the client has discarded: new conversations with it fail to decrypt.",
                s.excess_uploads,
                s.max_server_count.unwrap_or(0),
                s.refusals,
            ),
            ts: since,
            at: iso8601(since),
            // The rest is in otkHealth.flood.
            evidence: obj!({ "excessUploads": s.excess_uploads, "maxServerCount": s.max_server_count, "refusal": s.refusal }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDK's loop on an affected client: sync reports n, upload 50, server holds n + 50.
    fn flood_round(f: &mut Flood, server: &mut u64, t: u64) -> Option<Finding> {
        f.sync(Some(*server));
        f.upload(50);
        *server += 50;
        f.accepted(Some(*server), t + 10)
    }

    #[test]
    fn a_healthy_client_tops_up_to_the_target_and_stops() {
        let mut f = Flood::default();
        // New device: no sync yet, first batch of 50.
        f.upload(50);
        assert!(f.accepted(Some(50), 1).is_none());
        // Syncs at the target: no uploads. A peer claims one: the client uploads one key.
        f.sync(Some(50));
        f.sync(Some(49));
        f.upload(1);
        assert!(f.accepted(Some(50), 4).is_none());
        // A fallback-key-only upload while at the target is not excess.
        f.sync(Some(50));
        f.upload(0);
        assert!(f.accepted(Some(50), 6).is_none());
        assert!(!f.flooding());
        assert_eq!((f.state.excess_uploads, f.state.max_server_count), (0, Some(50)));
    }

    #[test]
    fn a_single_race_is_not_a_flood_two_rounds_are() {
        let mut f = Flood::default();
        let mut server = 50;
        assert!(flood_round(&mut f, &mut server, 10).is_none(), "one upload over target can be a race");
        let finding = flood_round(&mut f, &mut server, 20).expect("second excess upload");
        assert_eq!((finding.id.as_str(), finding.ke, finding.level), ("otk_flood", None, Level::Warning));
        assert_eq!(f.state.flooding_since, Some(30));
        assert!(finding.detail.contains("42.4.0") && finding.detail.contains("signing out does not help"), "{}", finding.detail);
        assert!(finding.detail.starts_with("2 uploads were accepted") && finding.detail.contains("reached 150"), "{}", finding.detail);
        assert_eq!(finding.evidence["excessUploads"], 2);
        assert_eq!(finding.evidence["maxServerCount"], 150);
    }

    #[test]
    fn growth_alone_is_enough_when_syncs_are_not_seen() {
        let mut f = Flood::default();
        for (i, n) in [50u64, 100].into_iter().enumerate() {
            f.upload(50);
            assert!(f.accepted(Some(n), i as u64).is_none(), "{n} is still within a correct client's reach");
        }
        f.upload(50);
        assert!(f.accepted(Some(150), 3).is_some());
        assert_eq!(f.state.excess_uploads, 0, "no /sync was read: nothing to compare with");
    }

    #[test]
    fn synapse_refusal_makes_it_critical() {
        let mut f = Flood::default();
        f.sync(Some(500));
        f.upload(50);
        let finding = f.refused(REFUSAL, 2).unwrap();
        assert_eq!(finding.level, Level::Critical);
        assert_eq!(f.state.excess_uploads, 0, "a refused upload added nothing to the server");
        assert!(finding.detail.contains("1 uploads refused"), "{}", finding.detail);
        assert_eq!(finding.evidence["refusal"], REFUSAL);
    }

    #[test]
    fn an_upload_without_an_answer_is_not_counted_later() {
        let mut f = Flood::default();
        f.sync(Some(60));
        f.upload(50);
        f.other_answer(); // a 400 conflict, a 5xx
        assert!(f.accepted(Some(60), 2).is_none());
        assert_eq!(f.state.excess_uploads, 0);
        assert_eq!(Flood::default().report(), None);
        assert_eq!(f.report().map(|r| r.target), Some(SDK_TARGET));
    }

    /// Synapse 1.163's words (element-hq/synapse synapse/handlers/e2e_keys.py).
    const REFUSAL: &str = "Uploading 50 more signed_curve25519 one-time keys would leave the device holding 550, over the limit of 500";

    #[test]
    fn refusal_text_is_told_from_the_conflict() {
        assert!(is_cap_refusal(Some("M_TOO_LARGE"), REFUSAL));
        assert!(!is_cap_refusal(Some("M_UNKNOWN"), "One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: …"));
        assert!(!is_cap_refusal(Some("M_TOO_LARGE"), "Request body too large"));
        assert!(!is_cap_refusal(None, REFUSAL));
        assert!(!is_cap_refusal(Some("M_BAD_JSON"), "bad"));
    }
}
