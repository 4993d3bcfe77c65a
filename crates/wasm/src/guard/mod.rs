//! Multi-tab guard: `acquireTabGuard`, `takeOverTabGuard`, `releaseTabGuard`,
//! `getTabGuardState`. Every decision is the core's
//! (`crypto_health_core::environment::tab_guard::Guard`); this side asks the browser and
//! carries the decisions out:
//! - [`locks`]: Web Locks, held for the tab's life (the mechanism of choice);
//! - [`lease`]: the localStorage lease, for browsers without Web Locks;
//! - [`browser`]: the page's APIs (channels, storage, events, clocks), all total;
//! - here: the page's one guard, its messages, page lifecycle events, the exports.
//!
//! Nothing here throws into the app; the only rejections are the caller's
//! bugs (bad options to `acquireTabGuard`, `takeOverTabGuard` without a guard).
//! No borrow of the guard is held while the app's code runs (its callbacks,
//! its listeners of the window event), so those may call back into the API.

mod browser;
mod lease;
mod locks;
mod options;

use crate::errors::{self, Code};
use crate::js;
use crypto_health_core::environment::tab_guard::{Callback, Cause, Change, Guard, Mechanism, Reaction, Role, Scope, TabGuard, EVENT};
use gloo_timers::callback::Interval;
use js_sys::{Function, Promise};
use options::check_options;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, Event, EventTarget, MessageEvent, Storage};

/// The app's callbacks (checked to be functions by [`options`]).
#[derive(Default)]
struct Callbacks {
    on_primary: Option<Function>,
    on_secondary: Option<Function>,
    on_stolen: Option<Function>,
    on_primary_gone: Option<Function>,
}

/// One BroadcastChannel of the scope and its message handler.
struct Channel {
    channel: BroadcastChannel,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

struct Listener {
    target: EventTarget,
    kind: &'static str,
    f: Closure<dyn FnMut(Event)>,
}

/// One acquired guard and the browser objects it uses.
pub(crate) struct Live {
    core: RefCell<Guard>,
    /// The scope's names in holding order, and this tab's id (copies of the core's, read without a borrow).
    names: Vec<String>,
    tab_id: String,
    timeout_ms: u32,
    callbacks: Callbacks,
    locks: Option<locks::LockManager>,
    ls: Option<Storage>,
    channels: RefCell<Vec<Channel>>,
    listeners: RefCell<Vec<Listener>>,
    released: Cell<bool>,
    pending: RefCell<Option<Promise>>,
    seq: Cell<u32>,
    held: RefCell<Option<Rc<locks::LockSet>>>,
    waiting: RefCell<Option<locks::Waiting>>,
    beat_timer: RefCell<Option<Interval>>,
    watch_timer: RefCell<Option<Interval>>,
    claiming: Cell<bool>,
    /// Lease primary gone into the back/forward cache: re-acquire on pageshow.
    hidden: Cell<bool>,
}

thread_local! {
    /// The page's guard: the live one, or the last one released (its state stays readable).
    static CURRENT: RefCell<Option<Rc<Live>>> = const { RefCell::new(None) };
}

fn current_live() -> Option<Rc<Live>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// This guard is the page's and not released: its callbacks may still act.
fn is_live(me: &Rc<Live>) -> bool {
    !me.released.get() && CURRENT.with(|c| c.borrow().as_ref().is_some_and(|g| Rc::ptr_eq(g, me)))
}

impl Live {
    fn note(&self, text: &str) {
        self.core.borrow_mut().note(text);
    }

    fn has_channel(&self) -> bool {
        !self.channels.borrow().is_empty()
    }

    /// A message to the peers, on every channel of the scope.
    fn post(&self, kind: &str, extra: &[(&str, &str)]) {
        let seq = self.seq.get().wrapping_add(1);
        self.seq.set(seq);
        let m = browser::message_object(&self.tab_id, seq, kind, extra);
        for c in self.channels.borrow().iter() {
            let _ = c.channel.post_message(&m);
        }
    }

    fn state_js(&self) -> JsValue {
        let state = self.core.borrow().state.clone();
        js::to_js(&state)
    }
}

/// Tell the page about a change: the window event, the callback, the peers.
fn emit(me: &Rc<Live>, change: Change) {
    let detail = browser::detail(me.state_js(), change.previous_role, change.cause);
    browser::dispatch(EVENT, &detail);
    let cb = match change.callback {
        Some(Callback::OnPrimary) => me.callbacks.on_primary.as_ref(),
        Some(Callback::OnSecondary) => me.callbacks.on_secondary.as_ref(),
        Some(Callback::OnStolen) => me.callbacks.on_stolen.as_ref(),
        Some(Callback::OnPrimaryGone) => me.callbacks.on_primary_gone.as_ref(),
        None => None,
    };
    if let Some(f) = cb {
        if let Err(e) = f.call1(&JsValue::UNDEFINED, &detail) {
            me.note(&format!("a tab-guard callback threw: {}", browser::error_text(&e)));
        }
    }
    if change.announce_primary {
        me.post("primary", &[("cause", change.cause)]);
    }
}

fn on_message(me: &Rc<Live>, ev: &MessageEvent) {
    if !is_live(me) {
        return;
    }
    let Some(m) = browser::message(&ev.data()) else {
        return;
    };
    let reaction = {
        let mut core = me.core.borrow_mut();
        core.on_message(&m, browser::mono(), || lease::read(me))
    };
    match reaction {
        Reaction::Nothing => {}
        Reaction::PauseForSteal => lease::pause_for_steal(me),
        Reaction::LoseLease(owner) => lease::lose(me, owner),
        Reaction::WaitForLock => locks::wait_for_lock(me),
        Reaction::Answer => {
            // Throttled timers: renew on the ping's (unthrottled) message task.
            lease::beat(me);
            if me.core.borrow().role() == Role::Primary && !me.core.borrow().unloading {
                me.post("pong", &[]);
            }
        }
        Reaction::Check => lease::check(me),
    }
}

fn listen(me: &Rc<Live>, target: Option<EventTarget>, kind: &'static str, handler: fn(&Rc<Live>, &Event)) {
    let Some(target) = target else { return };
    let weak: Weak<Live> = Rc::downgrade(me);
    let f = Closure::<dyn FnMut(Event)>::new(move |ev: Event| {
        if let Some(me) = weak.upgrade() {
            handler(&me, &ev);
        }
    });
    if target.add_event_listener_with_callback(kind, f.as_ref().unchecked_ref()).is_ok() {
        me.listeners.borrow_mut().push(Listener { target, kind, f });
    }
}

fn on_page_hide(me: &Rc<Live>, ev: &Event) {
    if !is_live(me) || me.core.borrow().role() != Role::Primary {
        return;
    }
    me.post("released", &[]);
    if me.core.borrow().mechanism == Mechanism::LocalStorage {
        // No beat after this (the page going hidden would otherwise renew the lease it just gave up).
        me.core.borrow_mut().unloading = true;
        lease::stop_beating(me);
        lease::clear(me);
        me.hidden.set(browser::get(ev, "persisted").as_bool() == Some(true));
    }
}

/// Back from the back/forward cache: the lease was given up on pagehide.
fn on_page_show(me: &Rc<Live>, ev: &Event) {
    if !is_live(me) || !me.hidden.get() || browser::get(ev, "persisted").as_bool() != Some(true) {
        return;
    }
    me.hidden.set(false);
    {
        let mut core = me.core.borrow_mut();
        core.unloading = false;
        core.state.role = Role::Idle;
    }
    let me2 = me.clone();
    let _ = start_pending(me, async move { lease::acquire(&me2).await });
}

fn on_storage(me: &Rc<Live>, ev: &Event) {
    let key = browser::get(ev, "key").as_string();
    if is_live(me) && key.is_some_and(|k| me.names.contains(&k)) && me.core.borrow().role() == Role::Secondary {
        lease::check(me);
    }
}

/// Back in the foreground (or unfrozen): renew, or learn at once that the lease was lost.
fn on_wake(me: &Rc<Live>, _: &Event) {
    let doc = browser::window().and_then(|w| w.document());
    let state = doc.and_then(|d| browser::get(&d, "visibilityState").as_string());
    if state.is_none_or(|s| s == "visible") {
        lease::beat(me);
    }
}

/// Run an acquire; the guard's `pending` promise resolves its answer.
fn start_pending(me: &Rc<Live>, run: impl std::future::Future<Output = ()> + 'static) -> Promise {
    let me2 = me.clone();
    let p = js::promise(Box::pin(async move {
        run.await;
        me2.pending.borrow_mut().take();
        JsValue::from_str(me2.core.borrow().answer())
    }));
    *me.pending.borrow_mut() = Some(p.clone());
    p
}

fn teardown(me: &Rc<Live>) {
    me.released.set(true);
    locks::release(me);
    lease::stop_beating(me);
    lease::stop_watching(me);
    if me.core.borrow().mechanism == Mechanism::LocalStorage {
        lease::clear(me);
    }
    for l in me.listeners.borrow_mut().drain(..) {
        let _ = l.target.remove_event_listener_with_callback(l.kind, l.f.as_ref().unchecked_ref());
    }
}

/// Make this tab the one that drives the crypto store, if no other tab does.
/// Await it at app entry, before the client opens the crypto store.
///
/// Options: `{ userId?, deviceId? }` label the lock (default: Cinny's session
/// in localStorage); every tab of the origin also holds the origin's lock
/// first, so tabs opened before and after login agree on one primary.
/// `autoTakeover?` (default false) makes a waiting secondary primary as soon
/// as the primary goes away, `timeoutMs?` (default 0) waits that long for a
/// holder that is leaving (a reload) before settling for secondary, and
/// callbacks `onSecondary`, `onStolen` (another tab took over: stop the
/// client), `onPrimary` (a secondary became primary), `onPrimaryGone` (the
/// primary left and this tab does not take over by itself).
///
/// Resolves `'primary' | 'secondary' | 'unsupported'` (neither Web Locks nor
/// localStorage). Never rejects for missing browser APIs; rejects only on bad
/// options. A second call resolves the current role.
#[wasm_bindgen(js_name = acquireTabGuard, unchecked_return_type = "Promise<TabGuardRole>")]
pub fn acquire_tab_guard(#[wasm_bindgen(unchecked_param_type = "TabGuardOptions")] options: JsValue) -> Promise {
    let opts = match check_options(&browser::whole(&options), |k| browser::arg(&browser::get(&options, k))) {
        Ok(o) => o,
        Err(e) => return errors::reject(Code::InvalidArgument, &e.to_string()),
    };
    let prev = current_live();
    if let Some(me) = prev.as_ref().filter(|g| !g.released.get()) {
        let pending = me.pending.borrow().clone();
        let role = me.core.borrow().role();
        return pending.unwrap_or_else(|| Promise::resolve(&JsValue::from_str(role.as_str())));
    }
    let locks = locks::lock_manager();
    let ls = if locks.is_some() { None } else { browser::writable_storage() };
    let mechanism = match (&locks, &ls) {
        (Some(_), _) => Mechanism::WebLocks,
        (None, Some(_)) => Mechanism::LocalStorage,
        (None, None) => Mechanism::None,
    };
    let session = crate::browser::session();
    let user = opts.user_id.clone().or(session.user_id);
    let device = opts.device_id.clone().or(session.device_id);
    let scope = Scope::new(&browser::origin(), user.as_deref(), device.as_deref());
    let names: Vec<String> = scope.names().into_iter().map(str::to_owned).collect();
    let tab_id = browser::random_id();
    let prev_state = prev.map(|g| g.core.borrow().state.clone());
    let core = Guard::new(prev_state.as_ref(), mechanism, scope, tab_id.clone(), opts.auto_takeover, browser::now(), browser::mono());
    let callbacks = Callbacks {
        on_primary: browser::function(&options, "onPrimary"),
        on_secondary: browser::function(&options, "onSecondary"),
        on_stolen: browser::function(&options, "onStolen"),
        on_primary_gone: browser::function(&options, "onPrimaryGone"),
    };
    let me = Rc::new(Live {
        core: RefCell::new(core),
        names,
        tab_id,
        timeout_ms: opts.timeout_ms,
        callbacks,
        locks,
        ls,
        channels: RefCell::new(Vec::new()),
        listeners: RefCell::new(Vec::new()),
        released: Cell::new(false),
        pending: RefCell::new(None),
        seq: Cell::new(0),
        held: RefCell::new(None),
        waiting: RefCell::new(None),
        beat_timer: RefCell::new(None),
        watch_timer: RefCell::new(None),
        claiming: Cell::new(false),
        hidden: Cell::new(false),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(me.clone()));
    if mechanism == Mechanism::None {
        let change = me.core.borrow_mut().become_role(Role::Unsupported, Cause::Acquired, None, browser::now());
        emit(&me, change);
        return Promise::resolve(&JsValue::from_str("unsupported"));
    }
    for name in me.names.clone() {
        let Some(c) = browser::channel(&name) else {
            continue;
        };
        let weak = Rc::downgrade(&me);
        let f = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            if let Some(me) = weak.upgrade() {
                on_message(&me, &ev);
            }
        });
        c.set_onmessage(Some(f.as_ref().unchecked_ref()));
        me.channels.borrow_mut().push(Channel { channel: c, _on_message: f });
    }
    me.core.borrow_mut().note_environment(me.has_channel(), browser::secure_context());
    let win: Option<EventTarget> = browser::window().map(Into::into);
    listen(&me, win.clone(), "pagehide", on_page_hide);
    listen(&me, win.clone(), "pageshow", on_page_show);
    if mechanism == Mechanism::LocalStorage {
        let doc: Option<EventTarget> = browser::window().and_then(|w| w.document()).map(Into::into);
        listen(&me, win, "storage", on_storage);
        listen(&me, doc.clone(), "visibilitychange", on_wake);
        listen(&me, doc, "resume", on_wake);
    }
    let me2 = me.clone();
    start_pending(&me, async move {
        if mechanism == Mechanism::WebLocks {
            locks::acquire(&me2).await
        } else {
            lease::acquire(&me2).await
        }
    })
}

/// Take the guard from the current primary (Web Locks `steal`; the lease
/// fallback overwrites the lease). The old primary gets `onStolen` at once.
/// Resolves `'primary'` (or `'unsupported'`); rejects when `acquireTabGuard`
/// was not called (or the guard was released).
#[wasm_bindgen(js_name = takeOverTabGuard, unchecked_return_type = "Promise<TabGuardRole>")]
pub fn take_over_tab_guard() -> Promise {
    let Some(me) = current_live().filter(|g| !g.released.get()) else {
        return errors::reject(Code::NotAcquired, "takeOverTabGuard: call acquireTabGuard first");
    };
    if me.core.borrow().mechanism == Mechanism::None {
        return Promise::resolve(&JsValue::from_str("unsupported"));
    }
    let pending = me.pending.borrow().clone();
    js::promise(Box::pin(async move {
        if let Some(p) = pending {
            let _ = JsFuture::from(p).await;
        }
        if is_live(&me) && me.core.borrow().role() != Role::Primary {
            if me.core.borrow().mechanism == Mechanism::WebLocks {
                locks::steal(&me).await;
            } else {
                lease::claim(&me, Cause::Steal).await;
            }
        }
        let role = me.core.borrow().role();
        role.as_str().into()
    }))
}

/// Let the guard go: the lock or lease is freed (a waiting tab takes over),
/// waiting and timers stop. Returns true if a guard was held or waiting.
#[wasm_bindgen(js_name = releaseTabGuard)]
pub fn release_tab_guard() -> bool {
    let Some(me) = current_live().filter(|g| !g.released.get()) else {
        return false;
    };
    let was_primary = me.core.borrow().role() == Role::Primary;
    teardown(&me);
    if was_primary {
        me.post("released", &[]);
    }
    for c in me.channels.borrow_mut().drain(..) {
        c.channel.set_onmessage(None);
        c.channel.close();
    }
    let change = me.core.borrow_mut().release(browser::now());
    emit(&me, change);
    true
}

/// The guard as the report shows it (`tabGuard`): mechanism, role, lock name,
/// takeovers, steals, conflicts, timestamps, recent role changes.
#[wasm_bindgen(js_name = getTabGuardState, unchecked_return_type = "TabGuardState")]
pub fn get_tab_guard_state() -> JsValue {
    js::to_js(&current())
}

/// The guard's state in the core's model (idle when never acquired).
pub(crate) fn current() -> TabGuard {
    current_live().map(|g| g.core.borrow().state.clone()).unwrap_or_default()
}
