//! The multi-tab guard: at most one tab per origin drives the crypto store
//! (two OlmMachines on one IndexedDB store fork the device's one-time keys:
//! KE-1). This module holds every decision of the guard as plain Rust with
//! explicit time: option checks, lock names, role changes and what they tell
//! the app, the localStorage lease's expiry and ping logic, how a tab reacts
//! to its peers' messages, and the report's `tabGuard` section and finding.
//! The browser side (the wasm crate's `guard`) asks the browser (Web Locks,
//! BroadcastChannel, localStorage, timers) and carries out what this decides.
//!
//! Times: `now` is Unix ms (reported), `mono` is the page's monotonic clock
//! (`performance.now()`), the only one expiry is judged by: wall clocks jump.

use crate::report::finding::{Finding, Level};
use crate::support::text::iso8601;
use serde_json::json;
use serde_json::Value;

/// Role changes kept in the report.
pub const MAX_EVENTS: usize = 32;
/// Notes kept in the report.
pub const MAX_NOTES: usize = 16;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TabGuard {
    /// `web-locks` | `local-storage` | `none` (not acquired, or neither API).
    pub mechanism: String,
    /// `idle` (never acquired) | `primary` | `secondary` | `unsupported` | `released`.
    pub role: String,
    /// `crypto-health:tab-guard:<origin>|<user>|<device>`.
    pub lock_name: Option<String>,
    /// This tab's random id (peers name each other by it).
    pub tab_id: Option<String>,
    pub auto_takeover: bool,
    /// Times this tab became primary after being secondary (automatic or `takeOverTabGuard`).
    pub takeovers: u32,
    /// Times another tab took the guard from this one.
    pub stolen: u32,
    /// Evidence of two primaries at once (a lease lost without a steal, a foreign primary notice).
    pub conflicts: u32,
    /// The current role since (Unix ms).
    pub since: Option<u64>,
    /// First `acquireTabGuard` (Unix ms).
    pub acquired_ts: Option<u64>,
    pub last_takeover_ts: Option<u64>,
    pub last_stolen_ts: Option<u64>,
    /// The tab that took the guard last, when its notice arrived.
    pub stolen_by: Option<String>,
    /// A secondary without auto-takeover saw the primary go away.
    pub primary_gone: bool,
    /// Role changes, oldest first (at most [`MAX_EVENTS`]).
    pub events: Vec<TabGuardEvent>,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TabGuardEvent {
    pub ts: u64,
    pub role: String,
    /// `acquired` | `takeover` | `steal` | `stolen` | `lease-lost` | `claim-lost` | `primary-gone` | `released`.
    pub cause: String,
    /// The other tab involved, when known.
    pub peer: Option<String>,
}

impl Default for TabGuard {
    fn default() -> Self {
        TabGuard {
            mechanism: "none".into(),
            role: "idle".into(),
            lock_name: None,
            tab_id: None,
            auto_takeover: false,
            takeovers: 0,
            stolen: 0,
            conflicts: 0,
            since: None,
            acquired_ts: None,
            last_takeover_ts: None,
            last_stolen_ts: None,
            stolen_by: None,
            primary_gone: false,
            events: Vec::new(),
            notes: Vec::new(),
        }
    }
}

const MECHANISMS: [&str; 3] = ["web-locks", "local-storage", "none"];
const ROLES: [&str; 5] = ["idle", "primary", "secondary", "unsupported", "released"];

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}
fn n(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(|x| x.as_u64().or_else(|| x.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64)))
}
fn b(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}
fn count(v: &Value, k: &str) -> u32 {
    n(v, k).map_or(0, |x| x.min(u32::MAX as u64) as u32)
}

impl TabGuard {
    /// Read the browser's state object (`getTabGuardState()`); anything
    /// missing or malformed falls back to the default, never fails.
    /// Read field by field rather than through serde: one deserializer in the wasm bundle.
    pub fn from_value(v: &Value) -> TabGuard {
        if !v.is_object() {
            return TabGuard::default();
        }
        let known = |x: Option<String>, set: &[&str], dflt: &str| x.filter(|x| set.contains(&x.as_str())).unwrap_or_else(|| dflt.into());
        let events = match v.get("events") {
            Some(Value::Array(a)) => a
                .iter()
                .rev()
                .take(MAX_EVENTS)
                .rev()
                .filter(|e| e.is_object())
                .map(|e| TabGuardEvent {
                    ts: n(e, "ts").unwrap_or(0),
                    role: s(e, "role").unwrap_or_default(),
                    cause: s(e, "cause").unwrap_or_default(),
                    peer: s(e, "peer"),
                })
                .collect(),
            _ => Vec::new(),
        };
        let notes = match v.get("notes") {
            Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).take(MAX_NOTES).collect(),
            _ => Vec::new(),
        };
        TabGuard {
            mechanism: known(s(v, "mechanism"), &MECHANISMS, "none"),
            role: known(s(v, "role"), &ROLES, "idle"),
            lock_name: s(v, "lockName"),
            tab_id: s(v, "tabId"),
            auto_takeover: b(v, "autoTakeover"),
            takeovers: count(v, "takeovers"),
            stolen: count(v, "stolen"),
            conflicts: count(v, "conflicts"),
            since: n(v, "since"),
            acquired_ts: n(v, "acquiredTs"),
            last_takeover_ts: n(v, "lastTakeoverTs"),
            last_stolen_ts: n(v, "lastStolenTs"),
            stolen_by: s(v, "stolenBy"),
            primary_gone: b(v, "primaryGone"),
            events,
            notes,
        }
    }

    /// A finding when the guard saw two primaries at once: both tabs may have
    /// written the crypto store, the way an account forks into KE-1.
    pub fn assess(&self, now_ms: u64) -> Option<Finding> {
        if self.conflicts == 0 {
            return None;
        }
        Some(Finding {
            id: "tab_guard_conflict".into(),
            ke: Some("KE-1".into()),
            level: Level::Warning,
            title: "Two tabs acted as the crypto primary at once".into(),
            detail: format!(
                "The tab guard ({}) saw {} conflict(s): another tab held the guard while this one believed it did. \
                 Both may have written the crypto store, which can fork the device's one-time keys (KE-1). \
                 Web Locks never do this; the localStorage fallback can when a tab is frozen past its lease.",
                self.mechanism, self.conflicts
            ),
            ts: now_ms,
            at: iso8601(now_ms),
            evidence: json!({ "mechanism": self.mechanism.clone(), "conflicts": self.conflicts, "stolen": self.stolen, "lockName": self.lock_name.clone() }),
        })
    }
}

// ------------------------------------------------------------------ names

/// The window event every role change fires (`detail`: the state, `previousRole`, `cause`).
pub const EVENT: &str = "crypto-health:tab-guard";
/// Lock, lease and channel names start with this.
pub const PREFIX: &str = "crypto-health:tab-guard:";
/// Cinny's session in localStorage: the default user and device of the lock name.
pub const SESSION_USER_KEY: &str = "cinny_user_id";
pub const SESSION_DEVICE_KEY: &str = "cinny_device_id";

/// Lease timing (localStorage fallback only). A crashed holder is replaced
/// after `SUSPECT_MS` without a lease change plus `PING_TIMEOUT_MS` without an
/// answer, checked every `CHECK_MS`, then `SETTLE_MS` to confirm the claim:
/// about 1.5–2.5 s after the crash. A clean close clears the lease at once
/// (takeover in about `SETTLE_MS`). `SUSPECT_MS` only has to exceed a
/// foreground beat: the ping, not the expiry, protects a live holder whose
/// timers are throttled (Chrome runs hidden tabs' timers once a minute after
/// 5 minutes; message events are not throttled). `PING_TIMEOUT_MS` bounds how
/// long the holder's main thread may be blocked before it is presumed dead (it
/// then steps down on its next task, and the report counts a conflict).
/// Without BroadcastChannel there is no ping, so the expiry alone must cover
/// throttled timers: `NO_CHANNEL_EXPIRY_MS`.
pub mod timing {
    pub const HEARTBEAT_MS: u32 = 1000;
    pub const CHECK_MS: u32 = 250;
    pub const SUSPECT_MS: f64 = 1500.0;
    pub const PING_TIMEOUT_MS: f64 = 500.0;
    pub const SETTLE_MS: u32 = 150;
    pub const NO_CHANNEL_EXPIRY_MS: f64 = 10000.0;
    /// A steal notice names the thief of a lock lost this long after it.
    pub const STEAL_NOTICE_MS: f64 = 5000.0;
    /// How often an acquire looks for the holder's answer to its ping.
    pub const ANSWER_POLL_MS: u32 = 50;
}

/// What the guard coordinates on. One origin has one IndexedDB, the store the
/// tabs share, so the origin is the scope that decides: every tab holds the
/// origin lock (`<prefix><origin>||`) first, then the lock named for its user
/// and device (`<prefix><origin>|<user>|<device>`, the name the report shows),
/// always in that order. A tab that opened before login (no user yet: both
/// names are the origin's) and one opened after it therefore contend for the
/// same lock; the second lock keeps the device-scoped name meaningful for any
/// other holder of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// `<prefix><origin>||`.
    pub origin_lock: String,
    /// `<prefix><origin>|<user>|<device>` (equal to `origin_lock` before login).
    pub lock_name: String,
}

impl Scope {
    pub fn new(origin: &str, user: Option<&str>, device: Option<&str>) -> Scope {
        Scope {
            origin_lock: format!("{PREFIX}{origin}||"),
            lock_name: format!("{PREFIX}{origin}|{}|{}", user.unwrap_or(""), device.unwrap_or("")),
        }
    }

    /// The names to hold, in the one order every tab takes them (no two tabs
    /// can each hold one and wait for the other).
    pub fn names(&self) -> Vec<&str> {
        if self.origin_lock == self.lock_name {
            vec![self.origin_lock.as_str()]
        } else {
            vec![self.origin_lock.as_str(), self.lock_name.as_str()]
        }
    }
}

// ---------------------------------------------------------------- options

/// One option as the browser side found it (`typeof`, read without running
/// the app's code more than one property read; a throwing getter is `Absent`).
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Absent,
    Str(String),
    Number(f64),
    Bool(bool),
    Function,
    Other,
}

/// The options' callbacks, in the order they are checked.
pub const CALLBACKS: [&str; 4] = ["onPrimary", "onSecondary", "onStolen", "onPrimaryGone"];

/// `acquireTabGuard`'s options, checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub auto_takeover: bool,
    /// 0: do not wait for a holder that is leaving.
    pub timeout_ms: u32,
}

/// Check `acquireTabGuard`'s options: `whole` is the argument itself
/// (`Absent` for undefined/null, `Other` for an object), `get` reads one
/// field. Absent fields take defaults. The error is the rejection's message.
pub fn check_options(whole: &Arg, mut get: impl FnMut(&str) -> Arg) -> Result<Options, String> {
    let bad = |what: &str| Err(format!("acquireTabGuard: {what}"));
    match whole {
        Arg::Absent => return Ok(Options::default()),
        Arg::Other => {}
        _ => return bad("options must be an object"),
    }
    let mut o = Options::default();
    for k in ["userId", "deviceId"] {
        match get(k) {
            Arg::Absent => {}
            Arg::Str(s) if k == "userId" => o.user_id = Some(s),
            Arg::Str(s) => o.device_id = Some(s),
            _ => return bad(&format!("{k} must be a string")),
        }
    }
    for k in CALLBACKS {
        if !matches!(get(k), Arg::Absent | Arg::Function) {
            return bad(&format!("{k} must be a function"));
        }
    }
    match get("timeoutMs") {
        Arg::Absent => {}
        Arg::Number(t) if t.is_finite() && t >= 0.0 => o.timeout_ms = if t >= u32::MAX as f64 { u32::MAX } else { t as u32 },
        _ => return bad("timeoutMs must be a number >= 0"),
    }
    match get("autoTakeover") {
        Arg::Absent => {}
        Arg::Bool(b) => o.auto_takeover = b,
        _ => return bad("autoTakeover must be a boolean"),
    }
    Ok(o)
}

// ---------------------------------------------------------- roles and causes

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    WebLocks,
    LocalStorage,
    None,
}

impl Mechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::WebLocks => "web-locks",
            Mechanism::LocalStorage => "local-storage",
            Mechanism::None => "none",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Idle,
    Primary,
    Secondary,
    Unsupported,
    Released,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Idle => "idle",
            Role::Primary => "primary",
            Role::Secondary => "secondary",
            Role::Unsupported => "unsupported",
            Role::Released => "released",
        }
    }
    fn parse(s: &str) -> Role {
        match s {
            "primary" => Role::Primary,
            "secondary" => Role::Secondary,
            "unsupported" => Role::Unsupported,
            "released" => Role::Released,
            _ => Role::Idle,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    Acquired,
    Takeover,
    Steal,
    Stolen,
    LeaseLost,
    ClaimLost,
    PrimaryGone,
    Released,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Acquired => "acquired",
            Cause::Takeover => "takeover",
            Cause::Steal => "steal",
            Cause::Stolen => "stolen",
            Cause::LeaseLost => "lease-lost",
            Cause::ClaimLost => "claim-lost",
            Cause::PrimaryGone => "primary-gone",
            Cause::Released => "released",
        }
    }
}

/// The app's callback a change calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callback {
    OnPrimary,
    OnSecondary,
    OnStolen,
    OnPrimaryGone,
}

/// One change to tell the page about: the window event (`detail` = the state
/// plus `previousRole` and `cause`), at most one callback, and whether to
/// announce this tab as primary to its peers.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub previous_role: &'static str,
    pub cause: &'static str,
    pub callback: Option<Callback>,
    pub announce_primary: bool,
}

// ------------------------------------------------------------------ lease

/// The localStorage lease (`{"owner","beat","ts"}` under each lock name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub beat: u64,
    pub ts: u64,
}

impl Lease {
    /// A stored lease; anything that is not an object with a string owner is none.
    pub fn parse(raw: &str) -> Option<Lease> {
        let v: Value = serde_json::from_str(raw).ok()?;
        let owner = v.get("owner")?.as_str()?.to_owned();
        Some(Lease { owner, beat: n(&v, "beat").unwrap_or(0), ts: n(&v, "ts").unwrap_or(0) })
    }

    pub fn text(&self) -> String {
        // Not Value's Display: it brings a second (pretty) JSON writer into the wasm.
        serde_json::to_string(&json!({ "owner": self.owner, "beat": self.beat, "ts": self.ts })).unwrap_or_default()
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
fn unsettled(leases: &[Option<Lease>], me: &str) -> bool {
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
    Renew(Lease),
    /// Another tab's lease replaced ours.
    Lost(String),
}

// ---------------------------------------------------------------- messages

/// A peer's message on the guard's BroadcastChannels (`{ v: 1, from, ts, type, to?, cause? }`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Message {
    pub from: String,
    /// Per-sender sequence number (NaN when absent): a tab posts on every
    /// channel of its scope, a peer in the same scope hears each message once
    /// per channel.
    pub seq: f64,
    pub kind: String,
    pub to: Option<String>,
    pub cause: Option<String>,
}

/// What the browser side does after a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reaction {
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

// ------------------------------------------------------------------- guard

/// A guard and all it decides. The browser side holds one per acquire.
#[derive(Clone, Debug)]
pub struct Guard {
    pub state: TabGuard,
    pub mechanism: Mechanism,
    pub scope: Scope,
    steal_by: Option<String>,
    steal_by_mono: f64,
    beat: u64,
    /// The lease text last seen (`None` until first looked at) and since when (mono).
    seen: Option<Option<String>>,
    seen_mono: f64,
    /// When this tab pinged the lease's owner (mono), until an answer or a change.
    ping_sent: Option<f64>,
    foreign_claim_mono: f64,
    claims_seen: u32,
    /// Lease primary: the page is going away, no more beats.
    pub unloading: bool,
    /// Messages already handled: (sender, seq), the newest few.
    heard: Vec<(String, f64)>,
}

const HEARD: usize = 16;

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
            mechanism: mechanism.as_str().into(),
            role: Role::Idle.as_str().into(),
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

    pub fn role(&self) -> Role {
        Role::parse(&self.state.role)
    }

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
        ev.push(TabGuardEvent { ts: now, role: role.as_str().into(), cause: cause.as_str().into(), peer });
        if ev.len() > MAX_EVENTS {
            let extra = ev.len() - MAX_EVENTS;
            ev.drain(..extra);
        }
    }

    /// One role change: state, counters, event log, and what to tell the page.
    pub fn become_role(&mut self, role: Role, cause: Cause, peer: Option<String>, now: u64) -> Change {
        let prev = self.role();
        let s = &mut self.state;
        s.role = role.as_str().into();
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
        self.state.role = Role::Released.as_str().into();
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

    // -------------------------------------------------------- messages

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
                    if role == Role::Secondary && last.cause == "stolen" && last.peer.is_none() {
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

    // ----------------------------------------------------------- lease

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_browser_state() {
        let v = json!({
            "mechanism": "web-locks", "role": "primary", "lockName": "crypto-health:tab-guard:http://127.0.0.1:8080|@a:hs|DEV",
            "tabId": "t1", "autoTakeover": true, "takeovers": 2, "stolen": 1, "conflicts": 0,
            "since": 1_795_000_000_123u64, "acquiredTs": 1_795_000_000_000u64, "lastTakeoverTs": 1_795_000_000_123u64,
            "lastStolenTs": null, "stolenBy": "t2", "primaryGone": false,
            "events": [{"ts": 1, "role": "secondary", "cause": "acquired", "peer": null}, {"ts": 2.5, "role": "primary", "cause": "takeover"}],
            "notes": ["x", 3],
        });
        let t = TabGuard::from_value(&v);
        assert_eq!(t.mechanism, "web-locks");
        assert_eq!(t.role, "primary");
        assert_eq!(t.takeovers, 2);
        assert_eq!(t.since, Some(1_795_000_000_123));
        assert_eq!(t.last_stolen_ts, None);
        assert_eq!(t.events.len(), 2);
        assert_eq!(t.events[1].ts, 2);
        assert_eq!(t.events[1].peer, None);
        assert_eq!(t.notes, vec!["x".to_string()]);
        assert!(t.assess(5).is_none());
    }

    #[test]
    fn malformed_state_is_the_default() {
        assert_eq!(TabGuard::from_value(&Value::Null), TabGuard::default());
        assert_eq!(TabGuard::from_value(&json!("primary")), TabGuard::default());
        let t = TabGuard::from_value(&json!({"role": "emperor", "mechanism": 7, "takeovers": -3, "events": "no"}));
        assert_eq!((t.role.as_str(), t.mechanism.as_str(), t.takeovers, t.events.len()), ("idle", "none", 0, 0));
    }

    #[test]
    fn events_are_capped_keeping_the_newest() {
        let events: Vec<Value> = (0..100).map(|i| json!({"ts": i, "role": "primary", "cause": "takeover"})).collect();
        let t = TabGuard::from_value(&json!({ "events": events }));
        assert_eq!(t.events.len(), MAX_EVENTS);
        assert_eq!(t.events.last().unwrap().ts, 99);
    }

    #[test]
    fn conflicts_raise_a_ke1_warning() {
        let t = TabGuard { mechanism: "local-storage".into(), conflicts: 1, ..TabGuard::default() };
        let f = t.assess(1_795_000_000_000).unwrap();
        assert_eq!(f.id, "tab_guard_conflict");
        assert_eq!(f.ke.as_deref(), Some("KE-1"));
        assert_eq!(f.level, Level::Warning);
    }
    // ------------------------------------------------------ the guard's decisions

    fn opts(fields: &[(&str, Arg)]) -> Result<Options, String> {
        check_options(&Arg::Other, |k| fields.iter().find(|(f, _)| *f == k).map_or(Arg::Absent, |(_, v)| v.clone()))
    }

    #[test]
    fn options_are_checked_with_the_documented_messages() {
        assert_eq!(check_options(&Arg::Absent, |_| unreachable!()), Ok(Options::default()));
        assert_eq!(check_options(&Arg::Str("primary".into()), |_| Arg::Absent).unwrap_err(), "acquireTabGuard: options must be an object");
        assert_eq!(check_options(&Arg::Function, |_| Arg::Absent).unwrap_err(), "acquireTabGuard: options must be an object");
        assert_eq!(opts(&[("userId", Arg::Number(5.0))]).unwrap_err(), "acquireTabGuard: userId must be a string");
        assert_eq!(opts(&[("deviceId", Arg::Bool(true))]).unwrap_err(), "acquireTabGuard: deviceId must be a string");
        assert_eq!(opts(&[("onStolen", Arg::Str("no".into()))]).unwrap_err(), "acquireTabGuard: onStolen must be a function");
        assert_eq!(opts(&[("onPrimaryGone", Arg::Other)]).unwrap_err(), "acquireTabGuard: onPrimaryGone must be a function");
        for t in [-1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(opts(&[("timeoutMs", Arg::Number(t))]).unwrap_err(), "acquireTabGuard: timeoutMs must be a number >= 0");
        }
        assert_eq!(opts(&[("timeoutMs", Arg::Str("5".into()))]).unwrap_err(), "acquireTabGuard: timeoutMs must be a number >= 0");
        assert_eq!(opts(&[("autoTakeover", Arg::Str("yes".into()))]).unwrap_err(), "acquireTabGuard: autoTakeover must be a boolean");
        let ok = opts(&[
            ("userId", Arg::Str("@a:hs".into())),
            ("deviceId", Arg::Str("DEV".into())),
            ("onPrimary", Arg::Function),
            ("timeoutMs", Arg::Number(250.7)),
            ("autoTakeover", Arg::Bool(true)),
        ])
        .unwrap();
        assert_eq!(ok, Options { user_id: Some("@a:hs".into()), device_id: Some("DEV".into()), auto_takeover: true, timeout_ms: 250 });
        assert_eq!(opts(&[("timeoutMs", Arg::Number(1e300))]).unwrap().timeout_ms, u32::MAX);
    }

    #[test]
    fn every_tab_of_an_origin_takes_the_origin_lock_first() {
        let before_login = Scope::new("http://127.0.0.1:8080", None, None);
        let after_login = Scope::new("http://127.0.0.1:8080", Some("@a:hs"), Some("DEV"));
        assert_eq!(before_login.names(), ["crypto-health:tab-guard:http://127.0.0.1:8080||"]);
        assert_eq!(after_login.lock_name, "crypto-health:tab-guard:http://127.0.0.1:8080|@a:hs|DEV");
        assert_eq!(
            after_login.names(),
            ["crypto-health:tab-guard:http://127.0.0.1:8080||", "crypto-health:tab-guard:http://127.0.0.1:8080|@a:hs|DEV"]
        );
        // Whatever the login state, the first lock two tabs of one origin take is the same one.
        assert_eq!(before_login.names()[0], after_login.names()[0]);
        assert_ne!(Scope::new("http://localhost:8080", None, None).names()[0], before_login.names()[0]);
    }

    fn guard(mech: Mechanism, auto: bool) -> Guard {
        tab("me", mech, auto)
    }

    fn tab(id: &str, mech: Mechanism, auto: bool) -> Guard {
        Guard::new(None, mech, Scope::new("o", Some("@u"), Some("D")), id.into(), auto, 1000, 0.0)
    }

    /// Every merge of the tabs' write sequences (`left[t]` writes of tab `t`):
    /// each order lists the tab of each write.
    fn merges(left: &mut [usize], acc: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if left.iter().all(|&n| n == 0) {
            out.push(acc.clone());
        }
        for t in 0..left.len() {
            if left[t] > 0 {
                left[t] -= 1;
                acc.push(t);
                merges(left, acc, out);
                acc.pop();
                left[t] += 1;
            }
        }
    }

    /// What localStorage holds under the two names after `order`'s writes:
    /// each tab writes its lease under the first name, then the second.
    fn replay(order: &[usize], ids: &[&str]) -> [Option<Lease>; 2] {
        let mut store = [None, None];
        let mut written = vec![0; ids.len()];
        for &t in order {
            store[written[t]] = lease(ids[t]);
            written[t] += 1;
        }
        store
    }

    #[test]
    fn role_changes_count_and_pick_the_callback() {
        let mut g = guard(Mechanism::WebLocks, true);
        assert_eq!(g.state.lock_name.as_deref(), Some("crypto-health:tab-guard:o|@u|D"));
        let c = g.become_role(Role::Secondary, Cause::Acquired, None, 1001);
        assert_eq!((c.previous_role, c.cause, c.callback, c.announce_primary), ("idle", "acquired", Some(Callback::OnSecondary), false));
        let c = g.become_role(Role::Primary, Cause::Takeover, None, 1002);
        assert_eq!((c.previous_role, c.callback, c.announce_primary), ("secondary", Some(Callback::OnPrimary), true));
        assert_eq!((g.state.takeovers, g.state.last_takeover_ts, g.state.since), (1, Some(1002), Some(1002)));
        let c = g.lock_stolen(1003, 10.0);
        assert_eq!((c.cause, c.callback), ("stolen", Some(Callback::OnStolen)));
        assert_eq!((g.state.stolen, g.state.last_stolen_ts, g.state.stolen_by.as_deref()), (1, Some(1003), None));
        assert_eq!(g.answer(), "secondary");
        // A first acquire that wins calls nothing (the app awaits the answer).
        let mut h = guard(Mechanism::WebLocks, false);
        assert_eq!(h.become_role(Role::Primary, Cause::Acquired, None, 5).callback, None);
        assert_eq!((h.state.takeovers, h.answer()), (0, "primary"));
        let r = h.release(6);
        assert_eq!((r.previous_role, r.cause, h.role(), h.answer()), ("primary", "released", Role::Released, "secondary"));
        let causes: Vec<&str> = h.state.events.iter().map(|e| e.cause.as_str()).collect();
        assert_eq!(causes, ["acquired", "released"]);
    }

    #[test]
    fn a_new_guard_keeps_the_pages_totals_and_events_but_not_its_notes() {
        let mut g = guard(Mechanism::None, false);
        assert!(g.state.notes[0].contains("neither Web Locks"));
        g.become_role(Role::Unsupported, Cause::Acquired, None, 1);
        g.state.takeovers = 3;
        let h = Guard::new(Some(&g.state), Mechanism::WebLocks, Scope::new("o", None, None), "t2".into(), false, 9, 0.0);
        assert_eq!((h.state.takeovers, h.state.events.len(), h.state.notes.len(), h.role()), (3, 1, 0, Role::Idle));
        assert_eq!(h.state.lock_name.as_deref(), Some("crypto-health:tab-guard:o||"));
    }

    #[test]
    fn events_and_notes_stay_bounded() {
        let mut g = guard(Mechanism::WebLocks, true);
        for i in 0..100 {
            g.become_role(if i % 2 == 0 { Role::Primary } else { Role::Secondary }, Cause::Takeover, None, i);
            g.note(&format!("note {i}"));
            g.note("same");
        }
        assert_eq!(g.state.events.len(), MAX_EVENTS);
        assert_eq!(g.state.events.last().unwrap().ts, 99);
        assert_eq!(g.state.notes.len(), MAX_NOTES);
    }

    #[test]
    fn primary_gone_is_said_once_until_a_primary_is_back() {
        let mut g = guard(Mechanism::WebLocks, false);
        assert!(g.vacant(1).is_none(), "idle: nothing to say");
        g.become_role(Role::Secondary, Cause::Acquired, None, 1);
        let c = g.vacant(2).unwrap();
        assert_eq!((c.cause, c.callback), ("primary-gone", Some(Callback::OnPrimaryGone)));
        assert!(g.state.primary_gone);
        assert!(g.vacant(3).is_none());
        let primary = Message { from: "p".into(), seq: 1.0, kind: "primary".into(), cause: Some("takeover".into()), ..Message::default() };
        assert_eq!(g.on_message(&primary, 4.0, || None), Reaction::WaitForLock);
        assert!(!g.state.primary_gone);
        assert!(g.vacant(5).is_some());
    }

    fn msg(from: &str, seq: f64, kind: &str) -> Message {
        Message { from: from.into(), seq, kind: kind.into(), ..Message::default() }
    }

    #[test]
    fn messages_are_heard_once_and_never_from_oneself() {
        let mut g = guard(Mechanism::WebLocks, false);
        g.become_role(Role::Primary, Cause::Acquired, None, 1);
        let m = Message { cause: Some("acquired".into()), ..msg("p", 7.0, "primary") };
        assert_eq!(g.on_message(&m, 1.0, || None), Reaction::Nothing);
        assert_eq!(g.state.conflicts, 1, "a foreign primary while primary is a conflict");
        g.on_message(&m, 1.0, || None); // the same message on the second channel
        assert_eq!(g.state.conflicts, 1);
        g.on_message(&Message { seq: 8.0, ..m.clone() }, 1.0, || None);
        assert_eq!(g.state.conflicts, 2);
        g.on_message(&Message { from: "me".into(), seq: 9.0, ..m.clone() }, 1.0, || None);
        // A peer without sequence numbers is heard every time.
        let unnumbered = Message { seq: f64::NAN, ..m.clone() };
        g.on_message(&unnumbered, 1.0, || None);
        g.on_message(&unnumbered, 1.0, || None);
        assert_eq!(g.state.conflicts, 4);
        let steal = Message { seq: 10.0, cause: Some("steal".into()), ..m };
        g.on_message(&steal, 1.0, || None);
        assert_eq!(g.state.conflicts, 4, "own messages and a thief's announcement are not conflicts");
    }

    #[test]
    fn a_steal_notice_names_the_thief_before_or_after_the_lock_is_lost() {
        let mut g = guard(Mechanism::WebLocks, false);
        g.become_role(Role::Primary, Cause::Acquired, None, 1);
        assert_eq!(g.on_message(&msg("thief", 1.0, "steal"), 100.0, || None), Reaction::Nothing);
        g.lock_stolen(2, 200.0);
        assert_eq!(g.state.stolen_by.as_deref(), Some("thief"));
        assert_eq!(g.state.events.last().unwrap().peer.as_deref(), Some("thief"));
        // Notice too old: unnamed; a notice arriving after the loss names it then.
        g.become_role(Role::Primary, Cause::Takeover, None, 3);
        g.lock_stolen(4, 100.0 + timing::STEAL_NOTICE_MS + 1.0);
        assert_eq!(g.state.stolen_by, None);
        g.on_message(&msg("thief2", 2.0, "steal"), 6000.0, || None);
        assert_eq!(g.state.stolen_by.as_deref(), Some("thief2"));
        assert_eq!(g.state.events.last().unwrap().peer.as_deref(), Some("thief2"));
    }

    fn lease(owner: &str) -> Option<Lease> {
        Some(Lease { owner: owner.into(), beat: 1, ts: 0 })
    }

    #[test]
    fn lease_text_round_trips_and_junk_is_no_lease() {
        let l = Lease { owner: "t\"1".into(), beat: 3, ts: 1_795_000_000_000 };
        assert_eq!(Lease::parse(&l.text()), Some(l));
        for junk in ["", "null", "[]", "{\"owner\":5}", "{oops", "\"x\""] {
            assert_eq!(Lease::parse(junk), None, "{junk}");
        }
        assert_eq!(Lease::parse(r#"{"owner":"ghost"}"#).unwrap().beat, 0);
    }

    #[test]
    fn the_foreign_lease_decides_and_a_claim_goes_to_the_first_names_owner() {
        assert_eq!(effective_lease(&[lease("me"), lease("x")], "me"), lease("x"));
        assert_eq!(effective_lease(&[None, lease("me")], "me"), lease("me"));
        assert_eq!(effective_lease(&[None, None], "me"), None);
        assert_eq!(claim_winner(&[None, lease("b"), lease("c")]), Some("b"));
        assert_eq!(claim_winner(&[None, None]), None);
    }

    #[test]
    fn a_quiet_lease_is_pinged_and_taken_only_without_an_answer() {
        let mut g = guard(Mechanism::LocalStorage, true);
        g.become_role(Role::Secondary, Cause::Acquired, None, 1);
        let l = lease("p");
        g.observe(Some("a".into()), 0.0);
        assert_eq!(g.lease_step(l.as_ref(), 1000.0, true), LeaseStep::Wait);
        assert_eq!(g.lease_step(l.as_ref(), 1501.0, true), LeaseStep::Ping("p".into()));
        assert_eq!(g.lease_step(l.as_ref(), 1900.0, true), LeaseStep::Wait, "waiting for the answer");
        // The answer (or a renewed lease) keeps the holder.
        g.on_message(&msg("p", 1.0, "pong"), 1950.0, || None);
        assert_eq!(g.lease_step(l.as_ref(), 2100.0, true), LeaseStep::Wait);
        assert_eq!(g.lease_step(l.as_ref(), 3451.0, true), LeaseStep::Ping("p".into()));
        g.observe(Some("b".into()), 3500.0);
        assert_eq!(g.lease_step(l.as_ref(), 4100.0, true), LeaseStep::Wait, "a change cancels the ping");
        // No answer: dead.
        assert_eq!(g.lease_step(l.as_ref(), 5001.0, true), LeaseStep::Ping("p".into()));
        assert_eq!(g.lease_step(l.as_ref(), 5502.0, true), LeaseStep::Claim);
        // No lease at all: claim at once; without autoTakeover: vacant.
        assert_eq!(g.lease_step(None, 5503.0, true), LeaseStep::Claim);
        let mut h = guard(Mechanism::LocalStorage, false);
        h.become_role(Role::Secondary, Cause::Acquired, None, 1);
        assert_eq!(h.lease_step(None, 1.0, true), LeaseStep::Vacant);
        // Without a channel only the long expiry counts, by the monotonic clock only.
        h.observe(Some("a".into()), 0.0);
        assert_eq!(h.lease_step(l.as_ref(), 9999.0, false), LeaseStep::Wait);
        assert_eq!(h.lease_step(l.as_ref(), 10001.0, false), LeaseStep::Vacant);
        // Only a secondary looks.
        let mut p = guard(Mechanism::LocalStorage, true);
        p.become_role(Role::Primary, Cause::Acquired, None, 1);
        assert_eq!(p.lease_step(None, 1e9, true), LeaseStep::Wait);
    }

    #[test]
    fn lease_primary_beats_answers_pings_and_steps_down_for_another_lease() {
        let mut g = guard(Mechanism::LocalStorage, false);
        g.become_role(Role::Primary, Cause::Acquired, None, 1);
        assert_eq!(g.beat_step(lease("me"), 5), BeatStep::Renew(Lease { owner: "me".into(), beat: 1, ts: 5 }));
        assert_eq!(g.beat_step(None, 6), BeatStep::Renew(Lease { owner: "me".into(), beat: 2, ts: 6 }));
        let ping = Message { to: Some("me".into()), ..msg("s", 1.0, "ping") };
        assert_eq!(g.on_message(&ping, 1.0, || None), Reaction::Answer);
        let other = Message { to: Some("else".into()), ..msg("s", 2.0, "ping") };
        assert_eq!(g.on_message(&other, 1.0, || None), Reaction::Nothing);
        // A foreign primary notice while our lease was replaced: step down, a conflict.
        let primary = Message { cause: Some("takeover".into()), ..msg("x", 3.0, "primary") };
        assert_eq!(g.on_message(&primary, 1.0, || lease("x")), Reaction::LoseLease("x".into()));
        assert_eq!(g.beat_step(lease("x"), 7), BeatStep::Lost("x".into()));
        let c = g.lose_lease("x".into(), 8);
        assert_eq!((c.cause, c.callback, g.state.conflicts, g.state.stolen), ("lease-lost", Some(Callback::OnStolen), 1, 1));
        // Announced steal: stolen, no conflict.
        let mut h = guard(Mechanism::LocalStorage, false);
        h.become_role(Role::Primary, Cause::Acquired, None, 1);
        assert_eq!(h.on_message(&msg("thief", 1.0, "steal"), 1.0, || None), Reaction::PauseForSteal);
        let c = h.lose_lease("thief".into(), 2);
        assert_eq!((c.cause, h.state.conflicts, h.state.stolen_by.as_deref()), ("stolen", 0, Some("thief")));
        assert_eq!(h.on_message(&msg("p", 2.0, "released"), 1.0, || None), Reaction::Check);
    }

    #[test]
    fn a_claim_read_while_the_names_disagree_is_unsettled() {
        assert!(unsettled(&[lease("c"), lease("me")], "me"));
        assert!(unsettled(&[lease("me"), None, lease("c")], "me"));
        assert!(!unsettled(&[lease("me"), lease("me")], "me"), "ours everywhere: won");
        assert!(!unsettled(&[lease("c"), lease("d")], "me"), "others everywhere: lost");
        assert!(!unsettled(&[lease("me"), None], "me"));
        assert!(!unsettled(&[], "me"));
    }

    #[test]
    fn claims_at_once_make_exactly_one_primary_whatever_the_interleaving() {
        // Three tabs each write their lease under both names (origin, device) in
        // order; localStorage ends with the last write per name. Every merge of
        // the three write sequences, read back by all three once settled.
        let mut all = Vec::new();
        merges(&mut [2; 3], &mut Vec::new(), &mut all);
        assert_eq!(all.len(), 90);
        let ids = ["t0", "t1", "t2"];
        let mut split = 0;
        for order in &all {
            let store = replay(order, &ids);
            if store[0] != store[1] {
                split += 1;
            }
            let primaries = ids
                .iter()
                .filter(|id| {
                    let mut g = tab(id, Mechanism::LocalStorage, false);
                    g.claim_end(Cause::Acquired, &store, 2);
                    g.role() == Role::Primary
                })
                .count();
            assert_eq!(primaries, 1, "{order:?} left {store:?}");
        }
        assert!(split > 0, "some interleavings split the names (no tab's lease everywhere)");
    }

    #[test]
    fn a_steal_read_back_writes_again_until_ours_everywhere() {
        assert_eq!(claim_read(Cause::Steal, &[lease("p"), lease("me")], "me"), ClaimRead::WriteAgain);
        assert_eq!(claim_read(Cause::Steal, &[lease("p"), lease("p")], "me"), ClaimRead::WriteAgain);
        assert_eq!(claim_read(Cause::Steal, &[None, lease("me")], "me"), ClaimRead::WriteAgain);
        assert_eq!(claim_read(Cause::Steal, &[lease("me"), lease("me")], "me"), ClaimRead::Decide);
        assert_eq!(claim_read(Cause::Steal, &[], "me"), ClaimRead::Decide, "no names: nothing to write");
        assert_eq!(claim_read(Cause::Takeover, &[lease("p"), lease("me")], "me"), ClaimRead::ReadAgain);
        assert_eq!(claim_read(Cause::Takeover, &[lease("p"), lease("p")], "me"), ClaimRead::Decide);
        assert_eq!(claim_read(Cause::Acquired, &[lease("me"), lease("me")], "me"), ClaimRead::Decide);
    }

    #[test]
    fn a_steal_wins_whatever_the_old_primarys_last_beat_overwrote() {
        // The thief T writes its lease under both names while the primary P's
        // beat, in flight when the steal notice reached it, writes P's: every
        // merge of the two write sequences. Then, in the order their timers
        // run: P's look after its pause (2 x SETTLE_MS: a beat, which steps
        // down for a foreign lease), T's read-backs (from 3 x SETTLE_MS), T's
        // decision, and P's next beat (HEARTBEAT_MS later).
        let mut orders = Vec::new();
        merges(&mut [2; 2], &mut Vec::new(), &mut orders);
        assert_eq!(orders.len(), 6);
        let new_guard = |id: &str, role: Role| {
            let mut g = tab(id, Mechanism::LocalStorage, false);
            g.become_role(role, Cause::Acquired, None, 1);
            g
        };
        let write = |store: &mut [Option<Lease>; 2], l: Lease| store.iter_mut().for_each(|s| *s = Some(l.clone()));
        let mut p_kept_the_first_name = 0;
        for order in orders {
            let mut p = new_guard("P", Role::Primary);
            let mut t = new_guard("T", Role::Secondary);
            assert!(t.claim_begin(Cause::Steal, 10.0));
            assert_eq!(p.on_message(&msg("T", 1.0, "steal"), 10.0, || None), Reaction::PauseForSteal);
            let mut store = replay(&order, &["T", "P"]);
            if store[0] == lease("P") {
                p_kept_the_first_name += 1;
            }
            let p_beat = |p: &mut Guard, store: &mut [Option<Lease>; 2]| match p.beat_step(effective_lease(store, "P"), 20) {
                BeatStep::Renew(l) => write(store, l),
                BeatStep::Lost(owner) => drop(p.lose_lease(owner, 20)),
            };
            p_beat(&mut p, &mut store);
            for _ in 0..UNSETTLED_READS {
                match claim_read(Cause::Steal, &store, "T") {
                    ClaimRead::Decide => break,
                    ClaimRead::ReadAgain => {}
                    ClaimRead::WriteAgain => write(&mut store, t.next_lease(30)),
                }
            }
            t.claim_end(Cause::Steal, &store, 40);
            if p.role() == Role::Primary {
                p_beat(&mut p, &mut store);
            }
            assert_eq!((t.role(), p.role()), (Role::Primary, Role::Secondary), "{order:?}");
            assert_eq!((p.state.conflicts, p.state.stolen_by.as_deref()), (0, Some("T")), "{order:?}: stolen, not a conflict");
        }
        assert!(p_kept_the_first_name > 0, "some merges leave P's lease under the first name");
    }

    #[test]
    fn claims_back_off_for_a_competitor_and_the_last_writer_wins() {
        let mut g = guard(Mechanism::LocalStorage, true);
        g.on_message(&msg("c", 1.0, "claim"), 1000.0, || None);
        assert!(!g.claim_begin(Cause::Takeover, 1299.0), "someone claimed just now");
        assert!(g.claim_begin(Cause::Steal, 1299.0), "a steal claims regardless");
        assert!(g.claim_begin(Cause::Acquired, 1301.0));
        assert!(!g.claim_raced());
        g.on_message(&msg("c", 2.0, "claim"), 1302.0, || None);
        assert!(g.claim_raced());
        assert_eq!(Guard::claim_settle_ms(Cause::Steal), 450);
        // Lost while idle: secondary, naming the winner.
        let c = g.claim_end(Cause::Acquired, &[lease("c"), lease("me")], 5).unwrap();
        assert_eq!((c.cause, g.role(), g.state.events.last().unwrap().peer.as_deref()), ("acquired", Role::Secondary, Some("c")));
        // Lost while secondary: no change; won: primary.
        assert_eq!(g.claim_end(Cause::Takeover, &[lease("c"), lease("c")], 6), None);
        let c = g.claim_end(Cause::Takeover, &[lease("me"), lease("me")], 7).unwrap();
        assert_eq!((c.cause, c.callback, g.state.takeovers), ("takeover", Some(Callback::OnPrimary), 1));
    }
}
