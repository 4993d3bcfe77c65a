//! The report section read back from the browser, and its finding.

use crate::environment::tab_guard::*;
use crate::evidence::signature::Class;
use crate::report::finding::Level;
use serde_json::{json, Value};

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
    assert_eq!(t.mechanism, Mechanism::WebLocks);
    assert_eq!(t.role, Role::Primary);
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
    let t = TabGuard { mechanism: Mechanism::LocalStorage, conflicts: 1, ..TabGuard::default() };
    let f = t.assess(1_795_000_000_000).unwrap();
    assert_eq!(f.id, "tab_guard_conflict");
    assert_eq!(f.ke.map(Class::as_str), Some("KE-1"));
    assert_eq!(f.level, Level::Warning);
}
