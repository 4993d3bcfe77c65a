//! The peers' messages on the guard's BroadcastChannels and how a tab reacts
//! to each (steal notices, primary announcements, claims, pings, releases).

use super::guard::{Guard, HEARD};
use super::lease::Lease;
use super::roles::{Cause, Mechanism, Role};

/// A peer's message on the guard's BroadcastChannels (`{ v: 1, from, ts, type, to?, cause? }`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Message {
    /// The sender's tab id.
    pub from: String,
    /// Per-sender sequence number (NaN when absent): a tab posts on every
    /// channel of its scope, a peer in the same scope hears each message once
    /// per channel.
    pub seq: f64,
    /// `steal` | `primary` | `claim` | `ping` | `pong` | `released`.
    pub kind: String,
    /// The addressee of a ping.
    pub to: Option<String>,
    /// A `primary` message's cause (`steal` for a thief's announcement).
    pub cause: Option<String>,
}

/// What the browser side does after a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// Nothing to carry out.
    Nothing,
    /// Lease primary told of a steal: stop beating, look again after `2 x SETTLE_MS`.
    PauseForSteal,
    /// Another tab's lease replaced ours ([`Guard::lose_lease`]).
    LoseLease(String),
    /// A secondary whose primary came back: queue for the lock again.
    WaitForLock,
    /// Lease primary pinged: beat now, then answer.
    Answer,
    /// Lease secondary: a primary released, look at the lease now.
    Check,
}

impl Guard {
    /// A peer's message. `lease` reads the current lease (only asked for
    /// when the answer depends on it).
    pub fn on_message(&mut self, m: &Message, mono: f64, lease: impl FnOnce() -> Option<Lease>) -> Reaction {
        if m.from == self.tab_id() {
            return Reaction::Nothing;
        }
        // Messages without a sequence number (older peers) are each handled.
        if m.seq.is_finite() {
            if self.heard.iter().any(|(f, s)| *f == m.from && *s == m.seq) {
                return Reaction::Nothing;
            }
            if self.heard.len() >= HEARD {
                self.heard.remove(0);
            }
            self.heard.push((m.from.clone(), m.seq));
        }
        let role = self.role();
        let ls = self.mechanism == Mechanism::LocalStorage;
        match m.kind.as_str() {
            "steal" => {
                self.steal_by = Some(m.from.clone());
                self.steal_by_mono = mono;
                if let Some(last) = self.state.events.last_mut() {
                    if role == Role::Secondary && last.cause == Cause::Stolen && last.peer.is_none() {
                        // The lock was taken before this notice arrived: name the thief now.
                        last.peer = Some(m.from.clone());
                        self.state.stolen_by = Some(m.from.clone());
                    }
                }
                if ls && role == Role::Primary {
                    // The thief writes its lease next: a beat now would overwrite it.
                    return Reaction::PauseForSteal;
                }
                Reaction::Nothing
            }
            "primary" => {
                if role == Role::Primary && m.cause.as_deref() != Some("steal") {
                    // Two primaries at once: a lease race or a tab frozen past its lease.
                    if ls {
                        if let Some(l) = lease().filter(|l| l.owner != self.tab_id()) {
                            return Reaction::LoseLease(l.owner);
                        }
                    }
                    self.state.conflicts = self.state.conflicts.saturating_add(1);
                    Reaction::Nothing
                } else if role == Role::Secondary {
                    let was_gone = self.state.primary_gone;
                    self.state.primary_gone = false;
                    if was_gone && self.mechanism == Mechanism::WebLocks {
                        Reaction::WaitForLock
                    } else {
                        Reaction::Nothing
                    }
                } else {
                    Reaction::Nothing
                }
            }
            "claim" => {
                self.foreign_claim_mono = mono;
                self.claims_seen = self.claims_seen.saturating_add(1);
                Reaction::Nothing
            }
            "ping" if ls && role == Role::Primary && m.to.as_deref() == Some(self.tab_id()) => Reaction::Answer,
            "pong" => {
                self.ping_sent = None;
                self.seen_mono = mono;
                Reaction::Nothing
            }
            "released" if ls && role == Role::Secondary => Reaction::Check,
            _ => Reaction::Nothing,
        }
    }
}
