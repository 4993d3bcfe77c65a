//! The page's one [`Diagnostics`] and the JS handles that keep the taps
//! alive, in a thread-local cell (wasm32 in the browser is single-threaded).
//!
//! After a panic the wasm traps without unwinding: the cell stays borrowed
//! and its contents may be half-written. The panic hook therefore writes the
//! message to the *original* console (past our own tap), and remembers it
//! outside the cell; from then on [`with`] hands out a fresh aggregate that
//! only knows capture stopped, the JS taps stop calling in, and the app's
//! console and fetch go on untouched.

use crypto_health_core::Diagnostics;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

pub(crate) const DEFAULT_REPORT_PREFIX: &str = "crypto-health-report";

pub(crate) struct State {
    pub diag: Diagnostics,
    pub report_prefix: String,
    /// Keeps the console sink closure alive while the tap is installed.
    pub sink: Option<ConsoleSink>,
    /// Keeps the fetch tap's hooks alive while it is installed.
    pub http_hooks: Option<HttpHooks>,
    /// Keeps the decryption watcher's hook alive (shared by every watched client).
    pub utd_hook: Option<UtdHook>,
}

/// `(level, message, ts, source)` from js/tap.js (level `widget`: a widget API message).
pub(crate) type ConsoleSink = Closure<dyn FnMut(String, String, f64, String)>;
/// The same shape as the fetch tap's exchange hook: one closure type, one glue.
pub(crate) type UtdHook = Closure<dyn FnMut(JsValue, Option<String>)>;

pub(crate) type HttpHooks = (Closure<dyn FnMut(String) -> JsValue>, Closure<dyn FnMut(JsValue, Option<String>)>);

impl Default for State {
    fn default() -> Self {
        State {
            diag: Diagnostics::default(),
            report_prefix: DEFAULT_REPORT_PREFIX.to_owned(),
            sink: None,
            http_hooks: None,
            utd_hook: None,
        }
    }
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    /// The panic that stopped capture, kept outside the (then poisoned) state.
    static STOPPED: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The state used after a panic: it says so and holds nothing else.
    static AFTER_PANIC: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Run `f` on the state; `None` if it is already borrowed (a re-entrant call
/// from JS while we hold it): the caller drops the work instead of panicking.
pub(crate) fn with<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    // The borrowing lives in one non-generic function; this shell is all
    // that is copied per call site.
    let mut f = Some(f);
    let mut out = None;
    with_dyn(&mut |s| out = f.take().map(|f| f(s)));
    out
}

fn with_dyn(f: &mut dyn FnMut(&mut State)) {
    if let Some(why) = stopped() {
        return AFTER_PANIC.with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                let s = slot.get_or_insert_with(|| {
                    let mut s = State::default();
                    s.diag.stopped_after_error(&why);
                    s
                });
                f(s);
            }
        });
    }
    STATE.with(|cell| {
        if let Ok(mut s) = cell.try_borrow_mut() {
            f(&mut s);
        }
    })
}

/// The panic message, once capture stopped after an internal error.
pub(crate) fn stopped() -> Option<String> {
    STOPPED.with(|s| s.try_borrow().ok().and_then(|s| s.clone()))
}

pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        STOPPED.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                s.get_or_insert_with(|| info.to_string());
            }
        });
        crate::js::tap_stop();
        crate::js::http_stop();
        crate::js::decrypt_stop();
        // console_error_panic_hook writes the message and the JS stack with
        // `console.error`; paused, the tap passes that call straight through.
        crate::js::tap_pause(true);
        console_error_panic_hook::hook(info);
        crate::js::tap_pause(false);
    }));
}
