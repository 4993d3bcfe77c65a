//! The Web Locks mechanism: `navigator.locks.request(name, options, callback)`,
//! each lock held for the tab's life by a promise the callback returns. The
//! browser frees a lock the moment its holder closes, crashes or navigates,
//! and grants it to the next queued request: takeover without timers.
//! `steal: true` takes it from a live holder, whose request then rejects.
//!
//! A tab holds every name of its scope, in the scope's one order
//! (`Scope::names`: the origin's lock first). A set of held locks ends as one:
//! losing any of them (a steal) lets the others go and makes the tab secondary.
//!
//! Bound here rather than through web-sys: its `LockManager` exists only with
//! `--cfg=web_sys_unstable_apis`, and `navigator.locks` is absent outside
//! secure contexts, which a typed getter cannot say.

use super::{browser, emit, is_live, Live};
use crypto_health_core::environment::tab_guard::{Cause, Role};
use js_sys::{Function, Object, Promise, Reflect};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, AbortSignal};

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks`.
    pub type LockManager;
    #[wasm_bindgen(method, catch)]
    fn request(this: &LockManager, name: &str, options: &JsValue, callback: &Function) -> Result<Promise, JsValue>;
}

/// `navigator.locks`, when it is there and has `request`.
pub(crate) fn lock_manager() -> Option<LockManager> {
    let locks = browser::get(&browser::get(&js_sys::global(), "navigator"), "locks");
    browser::get(&locks, "request").is_function().then(|| locks.unchecked_into())
}

/// Locks granted to one attempt (an acquire, a wait, a steal), released together.
#[derive(Default)]
pub(crate) struct LockSet {
    closed: Cell<bool>,
    /// This set makes the tab primary: its end is a steal.
    primary: Cell<bool>,
    releases: RefCell<Vec<Function>>,
}

impl LockSet {
    /// Let every held lock go; later grants are let go at once.
    pub(crate) fn close(&self) {
        self.closed.set(true);
        let releases: Vec<Function> = self.releases.borrow_mut().drain(..).collect();
        for r in releases {
            let _ = r.call0(&JsValue::UNDEFINED);
        }
    }
}

/// A wait for the locks that can be called off.
pub(crate) struct Waiting {
    abort: Option<AbortController>,
    set: Rc<LockSet>,
}

#[derive(Clone)]
enum Mode {
    IfAvailable,
    Wait(Option<AbortSignal>),
    Steal,
}

fn options(mode: &Mode) -> JsValue {
    let o: JsValue = Object::new().into();
    let put = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&o, &k.into(), v);
    };
    match mode {
        Mode::IfAvailable => put("ifAvailable", &true.into()),
        Mode::Steal => put("steal", &true.into()),
        Mode::Wait(Some(signal)) => put("signal", signal),
        Mode::Wait(None) => {}
    }
    o
}

/// A promise and its resolve function.
#[allow(clippy::expect_used, reason = "the Promise constructor runs its executor synchronously (ECMAScript), before new returns")]
fn promise_pair() -> (Promise, Function) {
    let mut resolve = None;
    let p = Promise::new(&mut |r, _| resolve = Some(r));
    (p, resolve.expect("the Promise executor runs at once"))
}

/// Request one lock into `set`; resolves true once held.
async fn request_one(me: &Rc<Live>, locks: &LockManager, name: &str, mode: &Mode, set: &Rc<LockSet>) -> bool {
    let (answer, tell) = promise_pair();
    let granted = Rc::new(Cell::new(false));
    let callback = {
        let (set, tell, granted) = (set.clone(), tell.clone(), granted.clone());
        Closure::once_into_js(move |lock: JsValue| -> JsValue {
            if lock.is_null() || lock.is_undefined() || set.closed.get() {
                let _ = tell.call1(&JsValue::UNDEFINED, &false.into());
                return JsValue::UNDEFINED; // not granted, or not wanted any more: let it go
            }
            granted.set(true);
            let (hold, release) = promise_pair();
            set.releases.borrow_mut().push(release);
            let _ = tell.call1(&JsValue::UNDEFINED, &true.into());
            hold.into()
        })
    };
    let done = match locks.request(name, &options(mode), callback.unchecked_ref()) {
        Ok(p) => p,
        Err(e) => {
            me.note(&format!("navigator.locks.request threw: {}", browser::error_text(&e)));
            return false;
        }
    };
    // The request settles when the lock is let go or stolen (or was never granted).
    let (weak, set2) = (Rc::downgrade(me), set.clone());
    spawn_local(async move {
        let _ = JsFuture::from(done).await;
        let _ = tell.call1(&JsValue::UNDEFINED, &false.into());
        if granted.get() {
            ended(&weak, &set2);
        }
    });
    JsFuture::from(answer).await.ok().and_then(|v| v.as_bool()).unwrap_or(false)
}

/// Request every name of the scope into `set`, in order; false (and the set
/// closed) as soon as one is not granted.
async fn hold_all(me: &Rc<Live>, mode: Mode, set: &Rc<LockSet>) -> bool {
    let Some(locks) = me.locks.as_ref().filter(|_| is_live(me)) else {
        set.close();
        return false;
    };
    for name in &me.names {
        if !request_one(me, locks, name, &mode, set).await || set.closed.get() || !is_live(me) {
            set.close();
            return false;
        }
    }
    true
}

/// A held lock ended without our release: another tab stole it.
fn ended(weak: &Weak<Live>, set: &Rc<LockSet>) {
    if set.closed.get() {
        return;
    }
    set.close();
    let Some(me) = weak.upgrade() else { return };
    if !set.primary.replace(false) {
        return;
    }
    let mine = me.held.borrow().as_ref().is_some_and(|h| Rc::ptr_eq(h, set));
    if mine {
        me.held.borrow_mut().take();
    }
    if !is_live(&me) {
        return;
    }
    let change = me.core.borrow_mut().lock_stolen(browser::now(), browser::mono());
    emit(&me, change);
    wait_for_lock(&me);
}

fn become_primary(me: &Rc<Live>, set: Rc<LockSet>, cause: Cause) {
    set.primary.set(true);
    if let Some(old) = me.held.borrow_mut().replace(set) {
        old.close();
    }
    let change = me.core.borrow_mut().become_role(Role::Primary, cause, None, browser::now());
    emit(me, change);
}

/// First acquire: take the locks if free (or within `timeoutMs`, for a holder
/// that is going away, such as a reload's old document); else secondary, queued.
pub(crate) async fn acquire(me: &Rc<Live>) {
    let t = me.timeout_ms;
    let timeout = browser::get(&browser::get(&js_sys::global(), "AbortSignal"), "timeout").is_function();
    let mode = if t > 0 && timeout { Mode::Wait(Some(AbortSignal::timeout_with_u32(t))) } else { Mode::IfAvailable };
    let set = Rc::new(LockSet::default());
    let held = hold_all(me, mode, &set).await;
    if !is_live(me) {
        set.close();
        return;
    }
    if held {
        become_primary(me, set, Cause::Acquired);
    } else {
        let change = me.core.borrow_mut().become_role(Role::Secondary, Cause::Acquired, None, browser::now());
        emit(me, change);
        wait_for_lock(me);
    }
}

/// Queue behind the holder. With autoTakeover the grant makes this tab
/// primary; without, it only learns the primary is gone and lets the locks go.
pub(crate) fn wait_for_lock(me: &Rc<Live>) {
    if !is_live(me) || me.waiting.borrow().is_some() || me.core.borrow().role() != Role::Secondary {
        return;
    }
    let abort = AbortController::new().ok();
    let set = Rc::new(LockSet::default());
    *me.waiting.borrow_mut() = Some(Waiting { abort: abort.clone(), set: set.clone() });
    let me = me.clone();
    spawn_local(async move {
        let held = hold_all(&me, Mode::Wait(abort.map(|a| a.signal())), &set).await;
        let mine = me.waiting.borrow().as_ref().is_some_and(|w| Rc::ptr_eq(&w.set, &set));
        if mine {
            me.waiting.borrow_mut().take();
        }
        if !held {
            return;
        }
        if !is_live(&me) || me.core.borrow().role() != Role::Secondary {
            set.close();
        } else if me.core.borrow().state.auto_takeover {
            become_primary(&me, set, Cause::Takeover);
        } else {
            set.close();
            let change = me.core.borrow_mut().vacant(browser::now());
            if let Some(c) = change {
                emit(&me, c);
            }
        }
    });
}

pub(crate) fn stop_waiting(me: &Live) {
    if let Some(w) = me.waiting.borrow_mut().take() {
        if let Some(a) = w.abort {
            a.abort();
        }
        w.set.close();
    }
}

/// `takeOverTabGuard`: steal every lock of the scope.
pub(crate) async fn steal(me: &Rc<Live>) {
    stop_waiting(me);
    me.post("steal", &[]);
    let set = Rc::new(LockSet::default());
    if hold_all(me, Mode::Steal, &set).await && is_live(me) && me.core.borrow().role() != Role::Primary {
        become_primary(me, set, Cause::Steal);
    } else {
        set.close();
    }
}

/// Teardown: let the held locks go.
pub(crate) fn release(me: &Live) {
    stop_waiting(me);
    if let Some(set) = me.held.borrow_mut().take() {
        set.primary.set(false);
        set.close();
    }
}
