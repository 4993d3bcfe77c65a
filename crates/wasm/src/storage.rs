//! Persistent storage and crypto-store consistency.

use crate::js::{self, bool_of, str_of, strings_of, u64_of};
use crate::state;
use crypto_health_core::environment::crypto_store::{self as consistency, StoreFacts, KNOWN_DATABASES, RUST_CRYPTO_DB};
use crypto_health_core::report::{CryptoStore, Estimate, Storage};
use crypto_health_core::support::text::iso8601;
use wasm_bindgen::prelude::*;

/// Cinny's session as `readSession()` in js/env.js reports it.
pub(crate) struct SessionInfo {
    pub available: bool,
    pub present: bool,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub homeserver: Option<String>,
}

pub(crate) fn session() -> SessionInfo {
    let v = js::from_js(&js::read_session());
    SessionInfo {
        available: bool_of(&v, "available").unwrap_or(false),
        present: bool_of(&v, "present").unwrap_or(false),
        user_id: str_of(&v, "userId"),
        device_id: str_of(&v, "deviceId"),
        homeserver: str_of(&v, "homeserver"),
    }
}

fn seen_key(s: &SessionInfo) -> String {
    format!("crypto-health:store-seen:{}|{}", s.user_id.as_deref().unwrap_or(""), s.device_id.as_deref().unwrap_or(""))
}

/// `persistStorage()`'s result (js/env.js), read into the report's storage model.
fn persist(v: &JsValue) -> Storage {
    let v = js::from_js(v);
    let estimate = v.get("estimate").filter(|e| e.is_object()).map(|e| Estimate { usage: u64_of(e, "usage"), quota: u64_of(e, "quota") });
    let notes = strings_of(&v, "notes").unwrap_or_default();
    Storage {
        status: str_of(&v, "status").unwrap_or_else(|| "unknown".into()),
        persisted: bool_of(&v, "persisted"),
        requested: bool_of(&v, "requested").unwrap_or(false),
        estimate,
        notes,
        ..Storage::default()
    }
}

fn merge_storage(p: Storage, store: Option<CryptoStore>) {
    state::with(|s| {
        let prev = s.storage.take().unwrap_or_default();
        s.storage = Some(Storage { requested: p.requested || prev.requested, crypto_store: store.unwrap_or(prev.crypto_store), ..p });
    });
}

/// Ask the browser to keep our storage (IndexedDB included) from eviction.
/// Checks `persisted()` first and calls `persist()` only when needed. Never
/// rejects: resolves `{ status, persisted, requested, estimate: { usage, quota }, cryptoStore, notes }`,
/// `status` being `persisted` | `not_persisted` | `unsupported` | `unknown`.
// The awaits happen in js/env.js, which calls back into a synchronous closure:
// no futures executor in the bundle.
#[wasm_bindgen(js_name = requestPersistentStorage, unchecked_return_type = "Promise<StorageState>")]
pub fn request_persistent_storage() -> js_sys::Promise {
    let done = Closure::once_into_js(|v: JsValue| -> JsValue {
        merge_storage(persist(&v), None);
        state::with(|s| js::to_js(&s.storage)).unwrap_or(JsValue::NULL)
    });
    js::persist_then(true, &done)
}

/// Is the rust crypto store there for the session in localStorage? Resolves
/// the finding (also recorded for the report) or `null` when consistent or
/// when it cannot be told (then the report's `storage.notes` says why). Never rejects.
#[wasm_bindgen(js_name = checkCryptoStoreConsistency, unchecked_return_type = "Promise<Finding | null>")]
pub fn check_crypto_store_consistency() -> js_sys::Promise {
    let now = js::now();
    let done = Closure::once_into_js(move |dbs: JsValue, p: JsValue| -> JsValue { assess_store(now, &js::from_js(&dbs), persist(&p)) });
    js::consistency_then(&done)
}

fn assess_store(now: u64, dbs: &crypto_health_core::support::json::Value, mut p: Storage) -> JsValue {
    let sess = session();
    let names = strings_of(dbs, "names");
    let key = seen_key(&sess);
    let seen_before = js::ls_get(&key).and_then(|v| v.parse::<u64>().ok());
    let facts = StoreFacts {
        session_present: sess.present,
        user_id: sess.user_id.clone(),
        device_id: sess.device_id.clone(),
        databases: names,
        store_seen_at: seen_before,
        persisted: p.persisted,
        checked_at: now,
    };
    let present = facts.has(RUST_CRYPTO_DB);
    // Remember that the store existed for this session: its later absence is then eviction, not doubt.
    if sess.present && present == Some(true) && seen_before.is_none() {
        js::ls_set(&key, &now.to_string());
    }
    let store = CryptoStore {
        present,
        databases: KNOWN_DATABASES.iter().filter_map(|n| Some(((*n).to_owned(), facts.has(n)?))).collect(),
        checked_at: Some(iso8601(now)),
        seen_at: seen_before.or(if present == Some(true) { Some(now) } else { None }).map(iso8601),
    };
    if facts.databases.is_none() {
        let why = str_of(dbs, "reason").or_else(|| str_of(dbs, "status")).unwrap_or_else(|| "no answer".into());
        p.notes.push(format!("crypto store presence unknown: {why}"));
    }
    if !sess.available {
        p.notes.push("localStorage is unavailable: session presence unknown".into());
    }
    merge_storage(p, Some(store));
    match consistency::assess(&facts) {
        None => JsValue::NULL,
        Some(f) => {
            let v = js::to_js(&f);
            state::with(|s| s.journal.add_finding(f));
            v
        }
    }
}
