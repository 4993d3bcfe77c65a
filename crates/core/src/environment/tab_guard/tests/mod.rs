//! The tab guard's unit tests, by topic, and the helpers they share.

mod claims;
mod guard;
mod lease;
mod messages;
mod report;
mod scope;

use super::*;

pub(super) fn guard(mech: Mechanism, auto: bool) -> Guard {
    tab("me", mech, auto)
}

pub(super) fn tab(id: &str, mech: Mechanism, auto: bool) -> Guard {
    Guard::new(None, mech, Scope::new("o", Some("@u"), Some("D")), id.into(), auto, 1000, 0.0)
}

/// Every merge of the tabs' write sequences (`left[t]` writes of tab `t`):
/// each order lists the tab of each write.
pub(super) fn merges(left: &mut [usize], acc: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
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
pub(super) fn replay(order: &[usize], ids: &[&str]) -> [Option<Lease>; 2] {
    let mut store = [None, None];
    let mut written = vec![0; ids.len()];
    for &t in order {
        store[written[t]] = lease(ids[t]);
        written[t] += 1;
    }
    store
}

pub(super) fn msg(from: &str, seq: f64, kind: &str) -> Message {
    Message { from: from.into(), seq, kind: kind.into(), ..Message::default() }
}

pub(super) fn lease(owner: &str) -> Option<Lease> {
    Some(Lease { owner: owner.into(), beat: 1, ts: 0 })
}
