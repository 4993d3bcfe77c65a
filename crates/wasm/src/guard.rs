//! Multi-tab guard: `acquireTabGuard`, `takeOverTabGuard`, `releaseTabGuard`,
//! `getTabGuardState`. The locks, lease and messages live in js/guard.js
//! (they are all browser callbacks); this side checks arguments and turns the
//! state into the report's model (`crypto_health_core::tab_guard`).

use crate::prelude::*;
use crate::js;
use crypto_health_core::tab_guard::TabGuard;
use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/guard.js")]
extern "C" {
    #[wasm_bindgen(js_name = guardAcquire)]
    fn guard_acquire(opts: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = guardTakeOver)]
    fn guard_take_over() -> Promise;
    #[wasm_bindgen(js_name = guardRelease)]
    fn guard_release() -> bool;
    #[wasm_bindgen(js_name = guardState)]
    fn guard_state() -> JsValue;
}

const CALLBACKS: [&str; 4] = ["onPrimary", "onSecondary", "onStolen", "onPrimaryGone"];

fn check_options(opts: &JsValue) -> Result<(), String> {
    if opts.is_undefined() || opts.is_null() {
        return Ok(());
    }
    if !opts.is_object() || opts.is_function() {
        return Err("options must be an object".into());
    }
    let field = |k: &str| Reflect::get(opts, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
    let absent = |v: &JsValue| v.is_undefined() || v.is_null();
    for k in ["userId", "deviceId"] {
        let v = field(k);
        if !absent(&v) && v.as_string().is_none() {
            return Err(cat!(k, " must be a string"));
        }
    }
    for k in CALLBACKS {
        let v = field(k);
        if !absent(&v) && !v.is_function() {
            return Err(cat!(k, " must be a function"));
        }
    }
    let t = field("timeoutMs");
    if !absent(&t) && !t.as_f64().is_some_and(|t| t.is_finite() && t >= 0.0) {
        return Err("timeoutMs must be a number >= 0".into());
    }
    let a = field("autoTakeover");
    if !absent(&a) && a.as_bool().is_none() {
        return Err("autoTakeover must be a boolean".into());
    }
    Ok(())
}

fn reject(msg: &str) -> Promise {
    Promise::reject(&JsError::new(msg).into())
}

/// Make this tab the one that drives the crypto store, if no other tab does.
/// Await it at app entry, before the client opens the crypto store.
///
/// Options: `{ userId?, deviceId? }` scope the lock (default: Cinny's session in
/// localStorage), `autoTakeover?` (default false) makes a waiting secondary
/// primary as soon as the primary goes away, `timeoutMs?` (default 0) waits
/// that long for a holder that is leaving (a reload) before settling for
/// secondary, and callbacks `onSecondary`, `onStolen` (another tab took over:
/// stop the client), `onPrimary` (a secondary became primary), `onPrimaryGone`
/// (the primary left and this tab does not take over by itself).
///
/// Resolves `'primary' | 'secondary' | 'unsupported'` (neither Web Locks nor
/// localStorage). Never rejects for missing browser APIs; rejects only on bad
/// options. A second call resolves the current role.
#[wasm_bindgen(js_name = acquireTabGuard, unchecked_return_type = "Promise<TabGuardRole>")]
pub fn acquire_tab_guard(#[wasm_bindgen(unchecked_param_type = "TabGuardOptions")] options: JsValue) -> Promise {
    match check_options(&options) {
        Ok(()) => guard_acquire(&options),
        Err(e) => reject(&cat!("acquireTabGuard: ", e)),
    }
}

/// Take the guard from the current primary (Web Locks `steal`; the lease
/// fallback overwrites the lease). The old primary gets `onStolen` at once.
/// Resolves `'primary'` (or `'unsupported'`); rejects when `acquireTabGuard`
/// was not called (or the guard was released).
#[wasm_bindgen(js_name = takeOverTabGuard, unchecked_return_type = "Promise<TabGuardRole>")]
pub fn take_over_tab_guard() -> Promise {
    let role = js::str_of(&js::from_js(&guard_state()), "role");
    match role.as_deref() {
        Some("idle") | Some("released") | None => reject("takeOverTabGuard: call acquireTabGuard first"),
        _ => guard_take_over(),
    }
}

/// Let the guard go: the lock or lease is freed (a waiting tab takes over),
/// waiting and timers stop. Returns true if a guard was held or waiting.
#[wasm_bindgen(js_name = releaseTabGuard)]
pub fn release_tab_guard() -> bool {
    guard_release()
}

/// The guard as the report shows it (`tabGuard`): mechanism, role, lock name,
/// takeovers, steals, conflicts, timestamps, recent role changes.
#[wasm_bindgen(js_name = getTabGuardState, unchecked_return_type = "TabGuardState")]
pub fn get_tab_guard_state() -> JsValue {
    js::to_js(&current())
}

/// The guard's state in the core's model.
pub(crate) fn current() -> TabGuard {
    TabGuard::from_value(&js::from_js(&guard_state()))
}
