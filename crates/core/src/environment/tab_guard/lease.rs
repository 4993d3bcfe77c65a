//! The localStorage lease (the fallback without Web Locks): the stored lease,
//! which lease counts, how a claim's read-back is decided, and the guard's
//! lease decisions (beats, a secondary's look, claims).

use super::guard::Guard;
use super::names::timing;
use super::roles::{Cause, Change, Role};
use super::u64_field;
use crate::support::obj;
use serde_json::Value;

/// The localStorage lease (`{"owner","beat","ts"}` under each lock name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The tab id of the holder.
    pub owner: String,
    /// The holder's beat count (every renewal changes the text).
    pub beat: u64,
    /// When written (Unix ms; informative only, expiry is judged by the monotonic clock).
    pub ts: u64,
}

impl Lease {
    /// A stored lease; anything that is not an object with a string owner is none.
    pub fn parse(raw: &str) -> Option<Lease> {
        let v: Value = serde_json::from_str(raw).ok()?;
        let owner = v.get("owner")?.as_str()?.to_owned();
        Some(Lease { owner, beat: u64_field(&v, "beat").unwrap_or(0), ts: u64_field(&v, "ts").unwrap_or(0) })
    }

    /// The text stored under each name.
    pub fn text(&self) -> String {
        // Not Value's Display: it brings a second (pretty) JSON writer into the wasm.
        serde_json::to_string(&obj!({ "owner": self.owner, "beat": self.beat, "ts": self.ts })).unwrap_or_default()
    }
}

/// What the leases under a scope's names say, seen from tab `me`: another
/// tab's lease if any (the first name first), else ours, else none.
pub fn effective_lease(leases: &[Option<Lease>], me: &str) -> Option<Lease> {
    let foreign = leases.iter().flatten().find(|l| l.owner != me);
    foreign.or_else(|| leases.iter().flatten().next()).cloned()
}

/// Whom a claim's read-back makes primary: the owner of the lease under the
/// first name that holds one. Claims at once write their leases name by name,
/// interleaved, and can leave the names split between tabs (`[B, C]`) with no
/// tab's lease everywhere; deciding "ours everywhere or lost", every tab then
/// loses. Every tab reads the same split once the writes have settled, so the
/// rule must pick one winner from it alone; the winner then writes its lease
/// under every name.
pub fn claim_winner(leases: &[Option<Lease>]) -> Option<&str> {
    leases.iter().flatten().next().map(|l| l.owner.as_str())
}

/// The names disagree: some hold our lease, some another tab's. The other
/// claims' writes may not all have reached this tab's view of localStorage yet
/// (each renderer applies the others' writes later, key by key): read again
/// before deciding. A tab whose lease is under no name has lost already.
pub(super) fn unsettled(leases: &[Option<Lease>], me: &str) -> bool {
    let mut owners = leases.iter().flatten().map(|l| l.owner == me);
    owners.clone().any(|ours| ours) && owners.any(|ours| !ours)
}

/// What a claim does with its read-back once the writes had time to settle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimRead {
    /// The read-back decides ([`Guard::claim_end`]).
    Decide,
    /// The names disagree while other claims' writes may be in flight: read
    /// again after `SETTLE_MS`.
    ReadAgain,
    /// A steal whose lease is not under every name: the old primary's beat, in
    /// flight when the steal notice reached it, overwrote some of our writes
    /// (`[P, T]` or `[P, P]`). It has stopped beating since, so write our lease
    /// again and read again; deciding on that read-back, the thief would lose
    /// to a primary that steps down, and no tab would be primary.
    WriteAgain,
}

/// See [`ClaimRead`]; asked after the settle time and after every re-read,
/// at most [`UNSETTLED_READS`] times.
pub fn claim_read(cause: Cause, leases: &[Option<Lease>], me: &str) -> ClaimRead {
    if cause == Cause::Steal {
        // No names (no localStorage): nothing to write again.
        let ours_everywhere = leases.iter().all(|l| l.as_ref().is_some_and(|l| l.owner == me));
        return if ours_everywhere { ClaimRead::Decide } else { ClaimRead::WriteAgain };
    }
    if unsettled(leases, me) {
        ClaimRead::ReadAgain
    } else {
        ClaimRead::Decide
    }
}

/// Re-reads of an unsettled claim (each after `SETTLE_MS`) before deciding anyway.
pub const UNSETTLED_READS: u32 = 4;

/// A secondary's look at the lease, every `CHECK_MS` (and on storage events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseStep {
    /// The holder is alive (or we are still waiting for its answer).
    Wait,
    /// The lease has been quiet too long: ping its owner.
    Ping(String),
    /// The lease is gone or its holder did not answer: claim it.
    Claim,
    /// The same, but this tab does not take over by itself: say the primary is gone.
    Vacant,
}

/// The lease under every name was written by `beat` at `ts`: renew (or claim).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeatStep {
    /// Write this lease (ours, one beat on) under every name.
    Renew(Lease),
    /// Another tab's lease replaced ours.
    Lost(String),
}

impl Guard {
    /// Record what the lease looks like now (`raw`: the texts under every
    /// name, joined); a change restarts the quiet time and cancels a ping.
    pub fn observe(&mut self, raw: Option<String>, mono: f64) {
        if self.seen.as_ref() != Some(&raw) {
            self.seen = Some(raw);
            self.seen_mono = mono;
            self.ping_sent = None;
        }
    }

    /// The next lease to write (this tab's, one beat on).
    pub fn next_lease(&mut self, now: u64) -> Lease {
        self.beat += 1;
        Lease { owner: self.tab_id().to_owned(), beat: self.beat, ts: now }
    }

    /// A lease primary's beat.
    pub fn beat_step(&mut self, lease: Option<Lease>, now: u64) -> BeatStep {
        match lease {
            Some(l) if l.owner != self.tab_id() => BeatStep::Lost(l.owner),
            _ => BeatStep::Renew(self.next_lease(now)),
        }
    }

    /// Another tab's lease replaced ours: stolen if it announced a steal, else
    /// a conflict (both may have believed they were primary).
    pub fn lose_lease(&mut self, owner: String, now: u64) -> Change {
        let stolen = self.steal_by.as_deref() == Some(owner.as_str());
        if !stolen {
            self.state.conflicts = self.state.conflicts.saturating_add(1);
        }
        self.become_role(Role::Secondary, if stolen { Cause::Stolen } else { Cause::LeaseLost }, Some(owner), now)
    }

    /// A secondary's look at the lease (after [`Guard::observe`]).
    pub fn lease_step(&mut self, lease: Option<&Lease>, mono: f64, has_channel: bool) -> LeaseStep {
        if self.role() != Role::Secondary {
            return LeaseStep::Wait;
        }
        let dead = match lease {
            None => true,
            Some(l) => {
                let quiet = mono - self.seen_mono;
                if !has_channel {
                    quiet > timing::NO_CHANNEL_EXPIRY_MS
                } else if self.ping_sent.is_none() && quiet > timing::SUSPECT_MS {
                    self.ping_sent = Some(mono);
                    return LeaseStep::Ping(l.owner.clone());
                } else {
                    self.ping_sent.is_some_and(|t| mono - t > timing::PING_TIMEOUT_MS)
                }
            }
        };
        match (dead, self.state.auto_takeover) {
            (false, _) => LeaseStep::Wait,
            (true, true) => LeaseStep::Claim,
            (true, false) => LeaseStep::Vacant,
        }
    }

    /// Acquire found another tab's lease: ping its owner and wait for the answer.
    pub fn ping_sent(&mut self, mono: f64) {
        self.ping_sent = Some(mono);
    }

    /// Acquire's wait: has the owner answered (a pong or a lease change)?
    pub fn answered(&self) -> bool {
        self.ping_sent.is_none()
    }

    /// Stop waiting for the owner's answer.
    pub fn stop_ping(&mut self) {
        self.ping_sent = None;
    }

    /// How long acquire waits for the lease owner's answer.
    pub fn answer_wait_ms(&self, timeout_ms: u32) -> f64 {
        timing::PING_TIMEOUT_MS.max(timeout_ms as f64)
    }

    /// Start a claim: false when another tab just claimed (let it win) —
    /// a steal claims regardless.
    pub fn claim_begin(&mut self, cause: Cause, mono: f64) -> bool {
        if cause != Cause::Steal && mono - self.foreign_claim_mono < (timing::SETTLE_MS * 2) as f64 {
            return false;
        }
        self.claims_seen = 0;
        true
    }

    /// How long to let competing writes settle: a thief waits until the old
    /// primary has stepped down (it looks again at `2 x SETTLE_MS`).
    pub fn claim_settle_ms(cause: Cause) -> u32 {
        if cause == Cause::Steal {
            timing::SETTLE_MS * 3
        } else {
            timing::SETTLE_MS
        }
    }

    /// Other tabs claimed meanwhile: give the writes one more settle time.
    pub fn claim_raced(&self) -> bool {
        self.claims_seen > 0
    }

    /// Read back after the claim: the last writer under the first name wins
    /// ([`claim_winner`]). `Some(change)` to carry out (primary: write the
    /// lease under every name, start beating; secondary: watch).
    pub fn claim_end(&mut self, cause: Cause, leases: &[Option<Lease>], now: u64) -> Option<Change> {
        let winner = claim_winner(leases).map(str::to_owned);
        if winner.as_deref() == Some(self.tab_id()) {
            self.ping_sent = None;
            return Some(self.become_role(Role::Primary, cause, None, now));
        }
        if self.role() == Role::Secondary {
            return None;
        }
        let why = if cause == Cause::Acquired { Cause::Acquired } else { Cause::ClaimLost };
        Some(self.become_role(Role::Secondary, why, winner, now))
    }
}
