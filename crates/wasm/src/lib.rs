//! Browser side of crypto-health: translates the page into observations for
//! the core and the core's state back into JS values. No decisions live here.
//!
//! - [`capture`]: console / window-error tap (`installCryptoDiagLog`, entries).
//! - [`http`]: fetch tap and KE-1 health (`installHttpTap`, `otkHealth`, `onRecoveryNeeded`).
//! - [`storage`]: persistent storage and crypto-store consistency.
//! - [`report`]: building and downloading the diagnostics report.
//! - [`guard`]: the multi-tab guard (one tab drives the crypto store).

extern crate alloc;

mod capture;
mod guard;
mod http;
#[doc(hidden)]
pub mod js; // public for the browser tests only
mod report;
mod state;
mod storage;
mod types;

/// What std's prelude would bring: the `alloc` types and macros the modules use.
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::string::String;
    pub use alloc::vec;
    pub use alloc::vec::Vec;
    // `format!` without `core::fmt` (see the core's `cat!`).
    pub use crypto_health_core::cat;
    pub use crypto_health_core::text::dec;
}

use crate::prelude::*;
use wasm_bindgen::prelude::*;

// talc instead of std's dlmalloc: several KiB smaller in the bundle. Safe here:
// a wasm page is single-threaded and talc grows the memory as dlmalloc does.
#[cfg(target_family = "wasm")]
#[global_allocator]
static ALLOC: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

pub use capture::{
    clear_crypto_diag_entries, get_crypto_diag_counts, get_crypto_diag_entries, get_crypto_diag_findings, install_crypto_diag_log,
    record_crypto_diag_line, uninstall_crypto_diag_log,
};
pub use guard::{acquire_tab_guard, get_tab_guard_state, release_tab_guard, take_over_tab_guard};
pub use http::{install_http_tap, on_recovery_needed, otk_health, uninstall_http_tap};
pub use report::{build_crypto_diag_report, download_crypto_diag_report};
pub use storage::{check_crypto_store_consistency, request_persistent_storage};

/// Package version (the Rust crate's), for the report and the card.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Classify one message without storing it: `{ ke, signature, severity, fields }` or `null`.
#[wasm_bindgen(js_name = classifyMessage, unchecked_return_type = "Classification | null")]
pub fn classify_message(message: &str) -> JsValue {
    match crypto_health_core::classify(message) {
        None => JsValue::NULL,
        Some(c) => js::to_js(&c.to_json()),
    }
}
