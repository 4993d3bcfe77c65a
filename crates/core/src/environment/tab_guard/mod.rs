//! The multi-tab guard: at most one tab per origin drives the crypto store
//! (two OlmMachines on one IndexedDB store fork the device's one-time keys:
//! KE-1). This module holds every decision of the guard as plain Rust with
//! explicit time; the browser side (the wasm crate's `guard`) asks the browser
//! (Web Locks, BroadcastChannel, localStorage, timers), checks the app's
//! options and carries out what this decides. One concern per file:
//!
//! - `report`: the report's `tabGuard` section and its finding;
//! - `names`: lock/lease/channel names of a scope, the lease fallback's timing;
//! - `roles`: mechanisms, roles, causes, callbacks, changes;
//! - `guard`: the [`Guard`] state machine (role changes);
//! - `lease`: the localStorage lease and the guard's lease decisions;
//! - `messages`: the peers' messages and the guard's reactions.
//!
//! Times: `now` is Unix ms (reported), `mono` is the page's monotonic clock
//! (`performance.now()`), the only one expiry is judged by: wall clocks jump.

mod guard;
mod lease;
mod messages;
mod names;
mod report;
mod roles;
#[cfg(test)]
mod tests;

pub use guard::Guard;
pub use lease::{claim_read, claim_winner, effective_lease, BeatStep, ClaimRead, Lease, LeaseStep, UNSETTLED_READS};
pub use messages::{Message, Reaction};
pub use names::{timing, Scope, EVENT, PREFIX};
pub use report::{TabGuard, TabGuardEvent, MAX_EVENTS, MAX_NOTES};
pub use roles::{Callback, Cause, Change, Mechanism, Role};

use serde_json::Value;

/// A string field of a JS object read as JSON.
fn text_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// A non-negative number field, truncated to whole units (JS numbers may carry fractions).
fn u64_field(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(|x| x.as_u64().or_else(|| x.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64)))
}

/// A boolean field; anything else is false.
fn flag_field(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// A counter field, saturated to `u32`.
fn count_field(v: &Value, k: &str) -> u32 {
    u64_field(v, k).map_or(0, |x| x.min(u32::MAX as u64) as u32)
}
