//! Peers' messages: heard once, steal notices.

use super::{guard, msg};
use crate::environment::tab_guard::*;

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
