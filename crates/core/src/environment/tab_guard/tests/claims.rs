//! Claims: read-backs, tabs claiming at once, steals racing the old primary's beat.

use super::{guard, lease, merges, msg, replay, tab};
use crate::environment::tab_guard::lease::unsettled;
use crate::environment::tab_guard::*;

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
