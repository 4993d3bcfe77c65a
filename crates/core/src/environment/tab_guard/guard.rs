//! The guard's state machine: one per acquire, holding the report state and
//! deciding every role change and what it tells the page. Its lease and
//! message decisions are in `lease.rs` and `messages.rs`.

use super::names::{timing, Scope};
use super::report::{TabGuard, TabGuardEvent, MAX_EVENTS, MAX_NOTES};
use super::roles::{Callback, Cause, Change, Mechanism, Role};

/// A guard and all it decides. The browser side holds one per acquire.
#[derive(Clone, Debug)]
pub struct Guard {
    /// What the report shows (`tabGuard`).
    pub state: TabGuard,
    /// The mechanism in use (also in `state`).
    pub mechanism: Mechanism,
    /// The names this guard holds.
    pub scope: Scope,
    /// The tab whose steal notice came last, and when (mono).
    pub(super) steal_by: Option<String>,
    pub(super) steal_by_mono: f64,
    /// This tab's lease beats so far.
    pub(super) beat: u64,
    /// The lease text last seen (`None` until first looked at) and since when (mono).
    pub(super) seen: Option<Option<String>>,
    pub(super) seen_mono: f64,
    /// When this tab pinged the lease's owner (mono), until an answer or a change.
    pub(super) ping_sent: Option<f64>,
    /// Another tab's last claim (mono), and claims heard since ours began.
    pub(super) foreign_claim_mono: f64,
    pub(super) claims_seen: u32,
    /// Lease primary: the page is going away, no more beats.
    pub unloading: bool,
    /// Messages already handled: (sender, seq), the newest few.
    pub(super) heard: Vec<(String, f64)>,
}

/// How many handled messages are remembered (a message arrives once per channel of the scope).
pub(super) const HEARD: usize = 16;

impl Guard {
    /// A new guard for this page; `prev` (the page's earlier guard) carries
    /// over its counters, timestamps and events, not its notes.
    pub fn new(
        prev: Option<&TabGuard>,
        mechanism: Mechanism,
        scope: Scope,
        tab_id: String,
        auto_takeover: bool,
        now: u64,
        mono: f64,
    ) -> Guard {
        let p = prev.cloned().unwrap_or_default();
        let state = TabGuard {
            mechanism,
            role: Role::Idle,
            lock_name: Some(scope.lock_name.clone()),
            tab_id: Some(tab_id),
            auto_takeover,
            takeovers: p.takeovers,
            stolen: p.stolen,
            conflicts: p.conflicts,
            since: Some(now),
            acquired_ts: Some(now),
            last_takeover_ts: p.last_takeover_ts,
            last_stolen_ts: p.last_stolen_ts,
            stolen_by: p.stolen_by,
            primary_gone: false,
            events: p.events,
            notes: Vec::new(),
        };
        let mut g = Guard {
            state,
            mechanism,
            scope,
            steal_by: None,
            steal_by_mono: 0.0,
            beat: 0,
            seen: None,
            seen_mono: mono,
            ping_sent: None,
            foreign_claim_mono: f64::NEG_INFINITY,
            claims_seen: 0,
            unloading: false,
            heard: Vec::new(),
        };
        match mechanism {
            Mechanism::None => g.note("neither Web Locks nor a writable localStorage: tabs cannot be coordinated"),
            Mechanism::LocalStorage | Mechanism::WebLocks => {}
        }
        g
    }

    /// This tab's role now.
    pub fn role(&self) -> Role {
        self.state.role
    }

    /// This tab's id.
    pub fn tab_id(&self) -> &str {
        self.state.tab_id.as_deref().unwrap_or("")
    }

    /// The role `acquireTabGuard` resolves: a guard released before it settled
    /// (or never settled) does not drive the store.
    pub fn answer(&self) -> &'static str {
        match self.role() {
            Role::Primary => "primary",
            Role::Unsupported => "unsupported",
            _ => "secondary",
        }
    }

    /// Why a degraded mode is in use, once; at most [`MAX_NOTES`].
    pub fn note(&mut self, text: &str) {
        let notes = &mut self.state.notes;
        if notes.len() < MAX_NOTES && !notes.iter().any(|n| n == text) {
            notes.push(text.to_owned());
        }
    }

    /// The browser side's findings about its environment, turned into notes.
    pub fn note_environment(&mut self, has_channel: bool, secure_context: bool) {
        if !has_channel && self.mechanism != Mechanism::None {
            self.note("no BroadcastChannel: takeover notices are not sent; the lease fallback waits for expiry");
        }
        if self.mechanism == Mechanism::LocalStorage {
            self.note(if secure_context {
                "no Web Locks in this browser: using the localStorage lease"
            } else {
                "Web Locks need a secure context (https or localhost): using the localStorage lease"
            });
        }
    }

    fn push_event(&mut self, now: u64, role: Role, cause: Cause, peer: Option<String>) {
        let ev = &mut self.state.events;
        ev.push(TabGuardEvent { ts: now, role, cause, peer });
        if ev.len() > MAX_EVENTS {
            let extra = ev.len() - MAX_EVENTS;
            ev.drain(..extra);
        }
    }

    /// One role change: state, counters, event log, and what to tell the page.
    pub fn become_role(&mut self, role: Role, cause: Cause, peer: Option<String>, now: u64) -> Change {
        let prev = self.role();
        let s = &mut self.state;
        s.role = role;
        s.since = Some(now);
        if role == Role::Primary {
            s.primary_gone = false;
            if matches!(cause, Cause::Takeover | Cause::Steal) {
                s.takeovers = s.takeovers.saturating_add(1);
                s.last_takeover_ts = Some(now);
            }
        }
        if matches!(cause, Cause::Stolen | Cause::LeaseLost) {
            s.stolen = s.stolen.saturating_add(1);
            s.last_stolen_ts = Some(now);
            s.stolen_by = peer.clone();
        }
        self.push_event(now, role, cause, peer);
        let callback = match role {
            Role::Primary if prev == Role::Secondary => Some(Callback::OnPrimary),
            Role::Secondary if matches!(cause, Cause::Stolen | Cause::LeaseLost) => Some(Callback::OnStolen),
            Role::Secondary if prev != Role::Secondary => Some(Callback::OnSecondary),
            _ => None,
        };
        Change { previous_role: prev.as_str(), cause: cause.as_str(), callback, announce_primary: role == Role::Primary }
    }

    /// The primary went away and this tab does not take over by itself: say so once.
    pub fn vacant(&mut self, now: u64) -> Option<Change> {
        if self.role() != Role::Secondary || self.state.primary_gone {
            return None;
        }
        self.state.primary_gone = true;
        self.push_event(now, Role::Secondary, Cause::PrimaryGone, None);
        Some(Change { previous_role: "secondary", cause: "primary-gone", callback: Some(Callback::OnPrimaryGone), announce_primary: false })
    }

    /// `releaseTabGuard`: the last change of this guard.
    pub fn release(&mut self, now: u64) -> Change {
        let was_primary = self.role() == Role::Primary;
        self.state.role = Role::Released;
        self.state.since = Some(now);
        self.push_event(now, Role::Released, Cause::Released, None);
        Change {
            previous_role: if was_primary { "primary" } else { "secondary" },
            cause: "released",
            callback: None,
            announce_primary: false,
        }
    }

    /// A Web Lock this tab held as primary ended without its release: another
    /// tab stole it. Named when its steal notice came recently.
    pub fn lock_stolen(&mut self, now: u64, mono: f64) -> Change {
        let by = self.steal_by.clone().filter(|_| mono - self.steal_by_mono < timing::STEAL_NOTICE_MS);
        self.become_role(Role::Secondary, Cause::Stolen, by, now)
    }
}
