//! The localStorage lease (insecure contexts, browsers without Web Locks):
//! the primary rewrites its lease under every name of its scope every
//! `HEARTBEAT_MS`; a secondary watches it and, when it stays quiet, pings its
//! owner over BroadcastChannel before claiming it (the core decides when:
//! `Guard::lease_step`). A claim writes the lease, lets competing writes
//! settle and reads it back: the last writer under the first name wins
//! (`tab_guard::claim_winner`) and writes its lease under every name.

use super::{browser, emit, is_live, Live};
use crypto_health_core::environment::tab_guard::{
    self, effective_lease, timing, BeatStep, Cause, ClaimRead, Guard, Lease, LeaseStep, Role,
};
use gloo_timers::callback::Interval;
use gloo_timers::future::TimeoutFuture;
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;

/// The lease under each name (`None` where there is none or it is not one).
fn leases(me: &Live) -> Vec<Option<Lease>> {
    let Some(ls) = me.ls.as_ref() else {
        return Vec::new();
    };
    me.names.iter().map(|n| browser::ls_get(ls, n).and_then(|raw| Lease::parse(&raw))).collect()
}

/// The texts under every name, joined (what "the lease changed" compares).
fn raw(me: &Live) -> Option<String> {
    let ls = me.ls.as_ref()?;
    let texts: Vec<Option<String>> = me.names.iter().map(|n| browser::ls_get(ls, n)).collect();
    if texts.iter().all(Option::is_none) {
        return None;
    }
    Some(texts.into_iter().map(Option::unwrap_or_default).collect::<Vec<_>>().join("\n"))
}

/// The lease that counts for this tab.
pub(crate) fn read(me: &Live) -> Option<Lease> {
    effective_lease(&leases(me), &me.tab_id)
}

/// Look at the lease and record what was seen.
fn observe(me: &Live) -> Option<Lease> {
    let raw = raw(me);
    me.core.borrow_mut().observe(raw, browser::mono());
    read(me)
}

fn write(me: &Live, lease: &Lease) {
    let Some(ls) = me.ls.as_ref() else { return };
    let text = lease.text();
    let ok = me.names.iter().all(|n| ls.set_item(n, &text).is_ok());
    if !ok {
        me.note("localStorage write failed (quota or storage disabled): the lease cannot be renewed");
    }
    observe(me);
}

/// Write this tab's lease, one beat on, under every name.
fn write_ours(me: &Live) {
    let lease = me.core.borrow_mut().next_lease(browser::now());
    write(me, &lease);
}

/// Remove the lease wherever it is still ours.
pub(crate) fn clear(me: &Live) {
    let Some(ls) = me.ls.as_ref() else { return };
    for n in &me.names {
        if browser::ls_get(ls, n).and_then(|raw| Lease::parse(&raw)).is_some_and(|l| l.owner == me.tab_id) {
            let _ = ls.remove_item(n);
        }
    }
}

/// The primary's beat: renew, unless another tab's lease replaced ours.
pub(crate) fn beat(me: &Rc<Live>) {
    if !is_live(me) || me.core.borrow().unloading || me.core.borrow().role() != Role::Primary {
        return;
    }
    let lease = read(me);
    let step = me.core.borrow_mut().beat_step(lease, browser::now());
    match step {
        BeatStep::Renew(l) => write(me, &l),
        BeatStep::Lost(owner) => lose(me, owner),
    }
}

pub(crate) fn lose(me: &Rc<Live>, owner: String) {
    stop_beating(me);
    let change = me.core.borrow_mut().lose_lease(owner, browser::now());
    emit(me, change);
    watch(me);
}

pub(crate) fn start_beating(me: &Rc<Live>) {
    let weak = Rc::downgrade(me);
    let timer = Interval::new(timing::HEARTBEAT_MS, move || {
        if let Some(me) = weak.upgrade() {
            beat(&me);
        }
    });
    *me.beat_timer.borrow_mut() = Some(timer);
}

pub(crate) fn stop_beating(me: &Live) {
    me.beat_timer.borrow_mut().take(); // dropping an Interval clears it
}

/// The secondary's watch: notice a vacant or dead lease.
pub(crate) fn watch(me: &Rc<Live>) {
    if me.watch_timer.borrow().is_some() {
        return;
    }
    let weak = Rc::downgrade(me);
    let timer = Interval::new(timing::CHECK_MS, move || {
        if let Some(me) = weak.upgrade() {
            check(&me);
        }
    });
    *me.watch_timer.borrow_mut() = Some(timer);
}

pub(crate) fn stop_watching(me: &Live) {
    me.watch_timer.borrow_mut().take();
    me.core.borrow_mut().stop_ping();
}

pub(crate) fn check(me: &Rc<Live>) {
    if !is_live(me) || me.claiming.get() || me.core.borrow().role() != Role::Secondary {
        return;
    }
    let lease = observe(me);
    let has_channel = me.has_channel();
    let step = me.core.borrow_mut().lease_step(lease.as_ref(), browser::mono(), has_channel);
    match step {
        LeaseStep::Wait => {}
        LeaseStep::Ping(owner) => me.post("ping", &[("to", &owner)]),
        LeaseStep::Claim => {
            let me = me.clone();
            spawn_local(async move { claim(&me, Cause::Takeover).await });
        }
        LeaseStep::Vacant => {
            let change = me.core.borrow_mut().vacant(browser::now());
            if let Some(c) = change {
                emit(me, c);
            }
        }
    }
}

/// Write our lease, let competing writes settle, read back: the last writer
/// under the first name wins.
pub(crate) async fn claim(me: &Rc<Live>, cause: Cause) {
    if me.claiming.replace(true) {
        return;
    }
    if me.core.borrow_mut().claim_begin(cause, browser::mono()) {
        if cause == Cause::Steal {
            me.post("steal", &[]);
        }
        write_ours(me);
        me.post("claim", &[]);
        TimeoutFuture::new(Guard::claim_settle_ms(cause)).await;
        if me.core.borrow().claim_raced() {
            TimeoutFuture::new(timing::SETTLE_MS).await; // a race: give the writes time to converge
        }
        if is_live(me) {
            observe(me);
            let mut all = leases(me);
            // Other claims' writes may not have reached this view yet (read
            // again); a steal's may have been overwritten (write again).
            for _ in 0..tab_guard::UNSETTLED_READS {
                match tab_guard::claim_read(cause, &all, &me.tab_id) {
                    ClaimRead::Decide => break,
                    ClaimRead::ReadAgain => {}
                    ClaimRead::WriteAgain => write_ours(me),
                }
                if !is_live(me) {
                    break;
                }
                TimeoutFuture::new(timing::SETTLE_MS).await;
                observe(me);
                all = leases(me);
            }
            let change = me.core.borrow_mut().claim_end(cause, &all, browser::now());
            if let Some(change) = change {
                if me.core.borrow().role() == Role::Primary {
                    stop_watching(me);
                    start_beating(me);
                    emit(me, change);
                    write_ours(me);
                } else {
                    emit(me, change);
                    watch(me);
                }
            }
        }
    }
    me.claiming.set(false);
}

/// First acquire: a lease held by someone else is asked whether it is alive.
pub(crate) async fn acquire(me: &Rc<Live>) {
    let lease = observe(me).filter(|l| l.owner != me.tab_id);
    if let Some(lease) = lease {
        let mut alive = !me.has_channel();
        if !alive {
            let mono = browser::mono();
            let until = {
                let mut core = me.core.borrow_mut();
                core.ping_sent(mono);
                mono + core.answer_wait_ms(me.timeout_ms)
            };
            me.post("ping", &[("to", &lease.owner)]);
            while browser::mono() < until && is_live(me) {
                TimeoutFuture::new(timing::ANSWER_POLL_MS).await;
                observe(me);
                if me.core.borrow().answered() {
                    alive = true;
                    break;
                }
            }
            me.core.borrow_mut().stop_ping();
        }
        if !is_live(me) {
            return;
        }
        if alive {
            let change = me.core.borrow_mut().become_role(Role::Secondary, Cause::Acquired, Some(lease.owner), browser::now());
            emit(me, change);
            watch(me);
            return;
        }
    }
    claim(me, Cause::Acquired).await;
    if is_live(me) && me.core.borrow().role() == Role::Idle {
        let change = me.core.borrow_mut().become_role(Role::Secondary, Cause::Acquired, None, browser::now());
        emit(me, change);
        watch(me);
    }
}

/// A steal notice arrived while this tab holds the lease: the thief writes its
/// lease next. Stop renewing (a beat now would overwrite it), then beat again
/// once the writes settled: the beat steps down if the thief's lease is there
/// (and the thief writes again where our last beat overwrote it).
pub(crate) fn pause_for_steal(me: &Rc<Live>) {
    stop_beating(me);
    let me = me.clone();
    spawn_local(async move {
        TimeoutFuture::new(timing::SETTLE_MS * 2).await;
        if !is_live(&me) || me.core.borrow().role() != Role::Primary {
            return;
        }
        start_beating(&me);
        beat(&me);
    });
}
