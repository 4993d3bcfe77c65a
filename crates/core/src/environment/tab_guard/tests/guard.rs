//! Role changes, their callbacks, counters and bounds.

use super::guard;
use crate::environment::tab_guard::*;

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
