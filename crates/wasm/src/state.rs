//! The one piece of global state: the journal and what we last learnt of the
//! environment, in one static RefCell (see [`with`]).

use crypto_health_core::http_stats::HttpStats;
use crypto_health_core::otk_health::Monitor;
use crypto_health_core::report::Storage;
use crypto_health_core::Journal;
use crate::prelude::*;
use core::cell::RefCell;
use wasm_bindgen::prelude::*;

pub const DEFAULT_REPORT_PREFIX: &str = "crypto-health-report";

pub struct State {
    pub journal: Journal,
    pub installed: bool,
    pub storage: Option<Storage>,
    pub report_prefix: String,
    /// Keeps the console sink closure alive while the tap is installed.
    pub sink: Option<Closure<dyn FnMut(String, String, f64)>>,
    /// One-time-key health of this device (KE-1), fed by both taps.
    pub otk: Monitor,
    pub http: HttpStats,
    /// Keeps the fetch tap's hooks alive while it is installed.
    pub http_hooks: Option<HttpHooks>,
}

pub type HttpHooks = (Closure<dyn FnMut(String) -> JsValue>, Closure<dyn FnMut(JsValue, Option<String>)>);

/// The state's cell. wasm32 without the `atomics` target feature (the browser
/// build) runs on one thread: a plain static is never shared, and no
/// `thread_local!` (std) is needed. Built on first use.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
fn cell<R>(f: impl FnOnce(&RefCell<Option<State>>) -> R) -> R {
    struct Global(RefCell<Option<State>>);
    // SAFETY: single-threaded target (cfg above): no other thread can reach it.
    unsafe impl Sync for Global {}
    static STATE: Global = Global(RefCell::new(None));
    f(&STATE.0)
}

/// Other targets (a native `cargo check`, threaded wasm) may have threads: one
/// state per thread, as std's `thread_local!` gives.
#[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
fn cell<R>(f: impl FnOnce(&RefCell<Option<State>>) -> R) -> R {
    std::thread_local! {
        static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    }
    STATE.with(f)
}

/// Run `f` on the state; `None` if it is already borrowed (a re-entrant call
/// from JS while we hold it): the caller drops the work instead of panicking.
pub fn with<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    cell(|s| {
        let mut st = s.try_borrow_mut().ok()?;
        Some(f(built(&mut st)))
    })
}

/// The state, built on first use. Not inlined: one copy of the construction
/// in the bundle rather than one per `with` caller.
#[inline(never)]
fn built(slot: &mut Option<State>) -> &mut State {
    slot.get_or_insert_with(|| State {
        journal: Journal::default(),
        installed: false,
        storage: None,
        report_prefix: DEFAULT_REPORT_PREFIX.to_owned(),
        sink: None,
        otk: Monitor::default(),
        http: HttpStats::default(),
        http_hooks: None,
    })
}
