//! Persistent storage and crypto-store consistency.

use crate::js::{self, bool_of, str_of, strings_of, u64_of};
use crate::state;
use crypto_health_core::consistency::{self, StoreFacts, KNOWN_DATABASES, RUST_CRYPTO_DB};
use crypto_health_core::report::{CryptoStore, Estimate, Storage};
use crypto_health_core::text::iso8601;
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

/// `persistStorage()` from js/env.js, read into the report's storage model.
async fn persist(ask: bool) -> Storage {
    let v = js::await_json(js::persist_storage(ask)).await;
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
#[wasm_bindgen(js_name = requestPersistentStorage, unchecked_return_type = "StorageState")]
pub async fn request_persistent_storage() -> JsValue {
    let p = persist(true).await;
    merge_storage(p, None);
    state::with(|s| js::to_js(&s.storage)).unwrap_or(JsValue::NULL)
}

/// Is the rust crypto store there for the session in localStorage? Resolves
/// the finding (also recorded for the report) or `null` when consistent or
/// when it cannot be told (then the report's `storage.notes` says why). Never rejects.
#[wasm_bindgen(js_name = checkCryptoStoreConsistency, unchecked_return_type = "Finding | null")]
pub async fn check_crypto_store_consistency() -> JsValue {
    let now = js::now();
    let sess = session();
    let dbs = js::await_json(js::list_databases()).await;
    let names = strings_of(&dbs, "names");
    let mut p = persist(false).await;
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
        let why = str_of(&dbs, "reason").or_else(|| str_of(&dbs, "status")).unwrap_or_else(|| "no answer".into());
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
