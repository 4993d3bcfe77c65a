//! Multi-tab guard: `acquireTabGuard`, `takeOverTabGuard`, `releaseTabGuard`,
//! `getTabGuardState`. The locks, lease and messages live in js/guard.js
//! (they are all browser callbacks, and so is checking the options, which the
//! release build then loads only with the guard); this side turns the state
//! into the report's model (`crypto_health_core::environment::tab_guard`).

use crate::js;
use crypto_health_core::environment::tab_guard::TabGuard;
use js_sys::Promise;
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
    guard_acquire(&options)
}

/// Take the guard from the current primary (Web Locks `steal`; the lease
/// fallback overwrites the lease). The old primary gets `onStolen` at once.
/// Resolves `'primary'` (or `'unsupported'`); rejects when `acquireTabGuard`
/// was not called (or the guard was released).
#[wasm_bindgen(js_name = takeOverTabGuard, unchecked_return_type = "Promise<TabGuardRole>")]
pub fn take_over_tab_guard() -> Promise {
    guard_take_over()
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
    TabGuard::from_value(&js::from_js(&guard_state()).unwrap_or_default())
}
