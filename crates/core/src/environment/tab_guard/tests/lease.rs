//! The lease: its text, which lease counts, a secondary's look, a primary's beat.

use super::{guard, lease, msg};
use crate::environment::tab_guard::*;

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
