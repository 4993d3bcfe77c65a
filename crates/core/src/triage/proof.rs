//! The KE-1 proof triage reasons about: one Synapse conflict ([`OtkConflict`]) and where it was read.

use super::facts::{OtkRow, ReportFacts, SynapseLog};
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

/// The conflict that still stands on the server. Synapse's 400 names the first conflicting key
/// id of an upload; once a peer claims that key (the row is deleted), the next upload's 400 names
/// another. So when `picked`'s key is no longer among the device's `stored` one-time keys, the
/// latest complete proof (report, then log) whose key is still stored replaces it, with a note.
pub fn standing(
    picked: Option<Proof>,
    r: &ReportFacts,
    log: Option<&SynapseLog>,
    user: Option<&str>,
    stored: Option<&[OtkRow]>,
    notes: &mut Vec<String>,
) -> Option<Proof> {
    let p = picked?;
    let Some(rows) = stored else { return Some(p) };
    let held = |x: &Proof| rows.iter().any(|o| o.algorithm == x.conflict.algorithm && o.key_id == x.conflict.key_id);
    if held(&p) {
        return Some(p);
    }
    let logged: Vec<Proof> = log
        .map(|l| {
            let mut cs: Vec<_> = l.conflicts_for(user).collect();
            cs.sort_by_key(|c| std::cmp::Reverse(c.loc));
            cs.into_iter().map(|c| Proof { source: l.source(c.loc), quote: c.quote.clone(), conflict: c.conflict.clone() }).collect()
        })
        .unwrap_or_default();
    let later = r.ke1.iter().rev().filter(|x| x.complete()).cloned().chain(logged).find(|x| x.complete() && held(x));
    match later {
        Some(l) => {
            notes.push(format!(
                "{} ({}) is no longer on the server (claimed since); Q1 reads the later conflict on {} ({}), still stored",
                p.full_id(),
                p.source,
                l.full_id(),
                l.source
            ));
            Some(l)
        }
        None => Some(p),
    }
}
