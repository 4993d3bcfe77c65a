//! The multi-tab guard as the report shows it (`tabGuard`), read from the
//! state the browser side keeps, and the finding it can raise.
//!
//! The guard itself runs in the browser (Web Locks or a localStorage lease);
//! the core only models and judges what it saw.

use crate::report::finding::{Finding, Level};
use crate::support::text::iso8601;
use serde_json::json;
use serde_json::Value;

/// Role changes kept in the report.
pub const MAX_EVENTS: usize = 32;
/// Notes kept in the report.
pub const MAX_NOTES: usize = 16;

#[derive(Clone, Debug, PartialEq)]
#[derive(serde::Serialize, serde::Deserialize)]
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

#[derive(Clone, Debug, Default, PartialEq)]
#[derive(serde::Serialize, serde::Deserialize)]
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
            detail: format!("The tab guard ({}) saw {} conflict(s): another tab held the guard while this one believed it did. \
                 Both may have written the crypto store, which can fork the device's one-time keys (KE-1). \
                 Web Locks never do this; the localStorage fallback can when a tab is frozen past its lease.", self.mechanism, self.conflicts),
            ts: now_ms,
            at: iso8601(now_ms),
            evidence: json!({ "mechanism": self.mechanism.clone(), "conflicts": self.conflicts, "stolen": self.stolen, "lockName": self.lock_name.clone() }),
        })
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
