//! The report's `tabGuard` section: what the guard did on this page (its
//! mechanism, role, takeovers, steals, conflicts, recent role changes), read
//! back from the browser's state object, and the finding it raises.

use super::roles::{Cause, Mechanism, Role};
use super::{count_field, flag_field, text_field, u64_field};
use crate::evidence::signature::Class;
use crate::report::finding::{Finding, Level};
use crate::support::obj;
use crate::support::text::iso8601;
use serde_json::Value;

/// Role changes kept in the report.
pub const MAX_EVENTS: usize = 32;
/// Notes kept in the report.
pub const MAX_NOTES: usize = 16;

/// The report's `tabGuard` section (also what `getTabGuardState()` returns).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TabGuard {
    /// `web-locks` | `local-storage` | `none` (not acquired, or neither API).
    pub mechanism: Mechanism,
    /// `idle` (never acquired) | `primary` | `secondary` | `unsupported` | `released`.
    pub role: Role,
    /// `crypto-health:tab-guard:<origin>|<user>|<device>`.
    pub lock_name: Option<String>,
    /// This tab's random id (peers name each other by it).
    pub tab_id: Option<String>,
    /// A waiting tab takes over by itself when the primary goes.
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
    /// The last takeover (Unix ms).
    pub last_takeover_ts: Option<u64>,
    /// The last time another tab took the guard (Unix ms).
    pub last_stolen_ts: Option<u64>,
    /// The tab that took the guard last, when its notice arrived.
    pub stolen_by: Option<String>,
    /// A secondary without auto-takeover saw the primary go away.
    pub primary_gone: bool,
    /// Role changes, oldest first (at most [`MAX_EVENTS`]).
    pub events: Vec<TabGuardEvent>,
    /// Why a degraded mode is in use (at most [`MAX_NOTES`]).
    pub notes: Vec<String>,
}

/// One role change in the report.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TabGuardEvent {
    /// When (Unix ms).
    pub ts: u64,
    /// The role it changed to.
    pub role: Role,
    /// `acquired` | `takeover` | `steal` | `stolen` | `lease-lost` | `claim-lost` | `primary-gone` | `released`.
    pub cause: Cause,
    /// The other tab involved, when known.
    pub peer: Option<String>,
}

impl Default for TabGuard {
    fn default() -> Self {
        TabGuard {
            mechanism: Mechanism::None,
            role: Role::Idle,
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

impl TabGuard {
    /// Read the browser's state object (`getTabGuardState()`); anything
    /// missing or malformed falls back to the default, never fails.
    /// Read field by field rather than through serde: one deserializer in the wasm bundle.
    pub fn from_value(v: &Value) -> TabGuard {
        if !v.is_object() {
            return TabGuard::default();
        }
        let events = match v.get("events") {
            Some(Value::Array(a)) => a
                .iter()
                .rev()
                .take(MAX_EVENTS)
                .rev()
                // An event whose role or cause this version does not know is left out.
                .filter_map(|e| {
                    Some(TabGuardEvent {
                        ts: u64_field(e, "ts").unwrap_or(0),
                        role: Role::from_name(&text_field(e, "role")?)?,
                        cause: Cause::from_name(&text_field(e, "cause")?)?,
                        peer: text_field(e, "peer"),
                    })
                })
                .collect(),
            _ => Vec::new(),
        };
        let notes = match v.get("notes") {
            Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).take(MAX_NOTES).collect(),
            _ => Vec::new(),
        };
        TabGuard {
            mechanism: text_field(v, "mechanism").and_then(|m| Mechanism::from_name(&m)).unwrap_or(Mechanism::None),
            role: text_field(v, "role").and_then(|r| Role::from_name(&r)).unwrap_or(Role::Idle),
            lock_name: text_field(v, "lockName"),
            tab_id: text_field(v, "tabId"),
            auto_takeover: flag_field(v, "autoTakeover"),
            takeovers: count_field(v, "takeovers"),
            stolen: count_field(v, "stolen"),
            conflicts: count_field(v, "conflicts"),
            since: u64_field(v, "since"),
            acquired_ts: u64_field(v, "acquiredTs"),
            last_takeover_ts: u64_field(v, "lastTakeoverTs"),
            last_stolen_ts: u64_field(v, "lastStolenTs"),
            stolen_by: text_field(v, "stolenBy"),
            primary_gone: flag_field(v, "primaryGone"),
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
            ke: Some(Class::Ke1),
            level: Level::Warning,
            title: "Two tabs acted as the crypto primary at once".into(),
            detail: format!(
                "The tab guard ({}) saw {} conflict(s): another tab held the guard while this one believed it did. \
                 Both may have written the crypto store, which can fork the device's one-time keys (KE-1). \
                 Web Locks never do this; the localStorage fallback can when a tab is frozen past its lease.",
                self.mechanism.as_str(),
                self.conflicts
            ),
            ts: now_ms,
            at: iso8601(now_ms),
            evidence: obj!({ "mechanism": self.mechanism.as_str(), "conflicts": self.conflicts, "stolen": self.stolen, "lockName": self.lock_name.clone() }),
        })
    }
}
