//! Persistent storage and crypto-store consistency.

use crate::{js, state};
use crypto_health_core::consistency::{self, StoreFacts, KNOWN_DATABASES, RUST_CRYPTO_DB};
use crypto_health_core::report::{CryptoStore, Estimate, Storage};
use crypto_health_core::text::iso8601;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

#[derive(Deserialize, Default)]
#[serde(default)]
struct PersistResult {
    status: String,
    persisted: Option<bool>,
    requested: bool,
    estimate: Option<Estimate>,
    notes: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SessionInfo {
    pub available: bool,
    pub present: bool,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub homeserver: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DbList {
    status: String,
    names: Option<Vec<String>>,
    reason: Option<String>,
}

pub(crate) fn session() -> SessionInfo {
    js::from_js(&js::read_session()).unwrap_or_default()
}

fn seen_key(s: &SessionInfo) -> String {
    format!("crypto-health:store-seen:{}|{}", s.user_id.as_deref().unwrap_or(""), s.device_id.as_deref().unwrap_or(""))
}

async fn persist(ask: bool) -> PersistResult {
    js::await_json(js::persist_storage(ask)).await.unwrap_or(PersistResult { status: "unknown".into(), ..Default::default() })
}

fn merge_storage(p: PersistResult, store: Option<CryptoStore>) {
    state::with(|s| {
        let prev = s.storage.take().unwrap_or_default();
        s.storage = Some(Storage {
            status: p.status,
            persisted: p.persisted,
            requested: p.requested || prev.requested,
            estimate: p.estimate,
            crypto_store: store.unwrap_or(prev.crypto_store),
            notes: p.notes,
        });
    });
}

/// Ask the browser to keep our storage (IndexedDB included) from eviction.
/// Checks `persisted()` first and calls `persist()` only when needed. Never
/// rejects: resolves `{ status, persisted, requested, estimate: { usage, quota }, notes }`,
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
    let dbs: DbList = js::await_json(js::list_databases()).await.unwrap_or_default();
    let p = persist(false).await;
    let key = seen_key(&sess);
    let seen_before = js::ls_get(&key).and_then(|v| v.parse::<f64>().ok());
    let facts = StoreFacts {
        session_present: sess.present,
        user_id: sess.user_id.clone(),
        device_id: sess.device_id.clone(),
        databases: dbs.names.clone(),
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
    let mut p = p;
    if dbs.status != "ok" {
        p.notes.push(format!("crypto store presence unknown: {}", dbs.reason.unwrap_or_else(|| dbs.status.clone())));
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
