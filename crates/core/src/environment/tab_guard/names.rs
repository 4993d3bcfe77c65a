//! Names and timing: the window event, the lock/lease/channel names of a
//! scope, and the lease fallback's clock constants.

/// The window event every role change fires (`detail`: the state, `previousRole`, `cause`).
pub const EVENT: &str = "crypto-health:tab-guard";
/// Lock, lease and channel names start with this.
pub const PREFIX: &str = "crypto-health:tab-guard:";

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
    /// A lease primary rewrites its lease this often.
    pub const HEARTBEAT_MS: u32 = 1000;
    /// A lease secondary looks at the lease this often.
    pub const CHECK_MS: u32 = 250;
    /// A lease unchanged this long gets its owner pinged.
    pub const SUSPECT_MS: f64 = 1500.0;
    /// A ping unanswered this long means the owner is gone.
    pub const PING_TIMEOUT_MS: f64 = 500.0;
    /// Competing claims' writes settle within this.
    pub const SETTLE_MS: u32 = 150;
    /// The lease's expiry when there is no BroadcastChannel to ping over.
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
    /// The scope of `origin` and, once logged in, the user and device.
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
