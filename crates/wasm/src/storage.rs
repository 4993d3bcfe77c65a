//! Persistent storage and crypto-store consistency: the browser is asked
//! (browser.rs), the core judges. The exports return their promise through
//! `js::promise` (one `future_to_promise` for the whole API); the async
//! functions are the same answers for Rust callers.

use crate::http::carry_out;
use crate::{browser, js, state, storage_keys};
use crypto_health_core::diagnostics::StoreProbe;
use wasm_bindgen::prelude::*;

/// Ask the browser to keep our storage (IndexedDB included) from eviction.
/// Checks `persisted()` first and calls `persist()` only when needed. Never
/// rejects: resolves `{ status, persisted, requested, estimate: { usage, quota }, cryptoStore, notes }`,
/// `status` being `persisted` | `not_persisted` | `unsupported` | `unknown`.
#[wasm_bindgen(js_name = requestPersistentStorage, unchecked_return_type = "Promise<StorageState>")]
pub fn request_persistent_storage_export() -> js_sys::Promise {
    js::promise(Box::pin(request_persistent_storage()))
}

/// `requestPersistentStorage` for Rust callers: the answer its promise resolves.
pub async fn request_persistent_storage() -> JsValue {
    let probe = browser::persist(true).await;
    state::with(|s| js::to_js(s.diag.storage_probe(probe))).unwrap_or(JsValue::NULL)
}

/// Is the rust crypto store there for the session in localStorage? Resolves
/// the finding (also recorded for the report) or `null` when consistent or
/// when it cannot be told (then the report's `storage.notes` says why). Never
/// rejects. Call it again after a login: the answer is about now.
#[wasm_bindgen(js_name = checkCryptoStoreConsistency, unchecked_return_type = "Promise<Finding | null>")]
pub fn check_crypto_store_consistency_export() -> js_sys::Promise {
    js::promise(Box::pin(check_crypto_store_consistency()))
}

/// `checkCryptoStoreConsistency` for Rust callers: the answer its promise resolves.
pub async fn check_crypto_store_consistency() -> JsValue {
    // The list the page had when the package was imported (js/tap.js; taken once): a client
    // started before the wasm was loaded may have re-created an evicted store since. Judged
    // first, as of then, for a device whose store was seen before that moment (a login since
    // the import is a device seen only after it); today's list follows and adds to it.
    let mut early = js::tap_databases().dyn_into::<js_sys::Array>().ok();
    let mut found = None;
    loop {
        let storage = browser::persist(false).await;
        let sess = browser::session();
        let (user, device) = (sess.user_id.as_deref(), sess.device_id.as_deref());
        let seen_at = browser::ls_get(&storage_keys::store_seen(user, device)).and_then(|v| v.parse().ok());
        // Seen before the list was taken: by an earlier page load. A mark written since (by this
        // page after a login, or by another tab) says nothing of the store at this page's import.
        let at_import = early.take().and_then(|a| {
            let at = a.get(0).as_f64()? as u64;
            seen_at.filter(|&seen| seen <= at).map(|_| (at, a.get(1)))
        });
        let now = at_import.as_ref().map_or_else(js::now, |(at, _)| *at);
        let (why_unlisted, databases) = match browser::database_names(at_import.as_ref().map(|(_, list)| list.clone())).await {
            Ok(names) => (None, Some(names)),
            Err(why) => (Some(why), None),
        };
        let probe = StoreProbe {
            remembered_prefix: browser::ls_get(&storage_keys::store_prefix(user, device)),
            evicted_at: browser::ls_get(&storage_keys::store_evicted(user, device)).and_then(|v| v.parse().ok()),
            session_present: sess.present,
            session_readable: sess.available,
            user_id: sess.user_id,
            device_id: sess.device_id,
            databases,
            why_unlisted,
            seen_at,
        };
        let Some((finding, effects)) = state::with(|s| s.diag.crypto_store_probe(probe, storage, now)) else { break };
        carry_out(effects);
        found = found.or(finding);
        if at_import.is_none() {
            break;
        }
    }
    found.map_or(JsValue::NULL, |f| js::to_js(&f))
}
