//! The KE-1 proof triage reasons about: one Synapse conflict ([`OtkConflict`]) and where it was read.

use super::facts::{ReportFacts, SynapseLog};
use crate::otk::conflict::OtkConflict;

/// A one-time-key conflict, with its source and the text quoted as evidence.
#[derive(Clone, Debug)]
pub struct Proof {
    /// Where it was read (`report entries[3] (ke1.otk_conflict)`, `homeserver.log:216`, a HAR entry).
    pub source: String,
    /// The text quoted as evidence.
    pub quote: String,
    /// The conflict, parsed.
    pub conflict: OtkConflict,
}

impl Proof {
    /// `signed_curve25519:AAAAAAAAAA0`.
    pub fn full_id(&self) -> String {
        format!("{}:{}", self.conflict.algorithm, self.conflict.key_id)
    }
    /// Whether both keys were read (so `diverged` is known).
    fn complete(&self) -> bool {
        self.conflict.diverged.is_some()
    }
}

/// The conflict to reason about: the client's first complete proof (else its first), unless
/// only a cut one is there and the log has the user's latest conflict.
pub fn pick(r: &ReportFacts, log: Option<&SynapseLog>, user: Option<&str>) -> Option<Proof> {
    let reported = r.ke1.iter().find(|p| p.complete()).or_else(|| r.ke1.first());
    if let Some(p) = reported.filter(|p| p.complete()) {
        return Some(p.clone());
    }
    let logged = log.and_then(|l| {
        let c = l.conflicts_for(user).max_by_key(|c| c.loc)?;
        Some(Proof { source: l.source(c.loc), quote: c.quote.clone(), conflict: c.conflict.clone() })
    });
    logged.or_else(|| reported.cloned())
}
