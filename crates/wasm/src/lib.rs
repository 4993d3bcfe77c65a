//! Browser side of crypto-health: turns the page into calls on the core's
//! [`Diagnostics`](crypto_health_core::Diagnostics) and carries out the
//! effects it returns. No decision lives here.
//!
//! - [`capture`]: console / window-error tap (`installCryptoDiagLog`, entries).
//! - [`http`]: fetch tap and KE-1 health (`installHttpTap`, `otkHealth`, `onRecoveryNeeded`).
//! - [`storage`]: persistent storage and crypto-store consistency.
//! - [`decryption`]: why messages fail to decrypt (`watchDecryption`).
//! - [`report`]: building and downloading the diagnostics report.
//! - [`guard`]: the multi-tab guard (one tab drives the crypto store).
//! - [`browser`]: browser facts through web-sys (localStorage, storage
//!   manager, IndexedDB names, the MatrixClient, downloads).
//! - [`js`]: the JavaScript that must stay JavaScript (the synchronous console
//!   and fetch wrappers) and value translation (JSON text both ways).
//! - [`state`]: the one aggregate of this page, and what happens after a panic.

mod browser;
mod capture;
mod decryption;
mod errors;
mod guard;
mod http;
#[doc(hidden)]
pub mod js; // public for the browser tests only
mod report;
mod state;
mod storage;
mod storage_keys;
mod types;

use wasm_bindgen::prelude::*;

// talc instead of std's dlmalloc: several KiB smaller in the bundle. Safe here:
// a wasm page is single-threaded and talc grows the memory as dlmalloc does.
#[cfg(target_family = "wasm")]
#[global_allocator]
static ALLOC: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

pub use capture::{
    clear_crypto_diag_entries, get_crypto_diag_counts, get_crypto_diag_entries, get_crypto_diag_findings, get_crypto_diag_health,
    install_crypto_diag_log, record_crypto_diag_line, uninstall_crypto_diag_log,
};
pub use decryption::{decryption_health, watch_decryption};
pub use guard::{acquire_tab_guard, get_tab_guard_state, release_tab_guard, take_over_tab_guard};
pub use http::{install_http_tap, on_recovery_needed, otk_health, uninstall_http_tap};
pub use report::{build_crypto_diag_report, download_crypto_diag_report};
pub use storage::{
    check_crypto_store_consistency, check_crypto_store_consistency_export, request_persistent_storage, request_persistent_storage_export,
};

/// Runs when the module is instantiated: panics go to the original console.
#[wasm_bindgen(start)]
fn start() {
    state::install_panic_hook();
}

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

/// Test builds only (`--features panic-test`): panic inside the state, as an
/// internal error would, to prove that capture stops visibly and the page goes on.
#[cfg(feature = "panic-test")]
#[wasm_bindgen(js_name = __panicForTest)]
pub fn panic_for_test() {
    state::with(|_| panic!("panic requested by a test build"));
}
