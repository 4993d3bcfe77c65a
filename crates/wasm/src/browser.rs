//! Browser facts through web-sys. Every function here is total: a missing
//! API (no window, sandboxed localStorage, no `indexedDB.databases()`, an
//! insecure context) comes back as a named absence, never as an exception.

use crypto_health_core::diagnostics::StorageProbe;
use crypto_health_core::environment::session::Session;
use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

fn local_storage() -> Option<web_sys::Storage> {
    // `window.localStorage` itself throws in some sandboxed iframes.
    web_sys::window()?.local_storage().ok().flatten()
}

/// The app's session as localStorage holds it (upstream Cinny's keys or a fork's session list,
/// read by the core); of the token only its presence is kept.
pub(crate) fn session() -> Session {
    let Some(ls) = local_storage() else { return Session::default() };
    Session::read(|k| ls.get_item(k).ok().flatten())
}

pub(crate) fn ls_get(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

pub(crate) fn ls_set(key: &str, value: &str) -> bool {
    local_storage().is_some_and(|ls| ls.set_item(key, value).is_ok())
}

fn error_text(e: &JsValue) -> String {
    Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()).or_else(|| e.as_string()).unwrap_or_else(|| "unknown error".into())
}

/// Element Web's `tryPersistStorage`, done fully: check `persisted()` first,
/// ask `persist()` only if needed (and `ask`), then estimate. Never fails.
pub(crate) async fn persist(ask: bool) -> StorageProbe {
    let mut out = StorageProbe::default();
    let storage =
        web_sys::window().map(|w| w.navigator().storage()).filter(|s| Reflect::get(s, &"persisted".into()).is_ok_and(|f| f.is_function()));
    let Some(storage) = storage else {
        out.status = Some("unsupported".into());
        let secure = web_sys::window().map(|w| w.is_secure_context());
        out.notes.push(if secure == Some(false) {
            "navigator.storage is unavailable: not a secure context (serve over https or localhost)".into()
        } else {
            "navigator.storage is unavailable in this browser".into()
        });
        return out;
    };
    let result: Result<bool, JsValue> = async {
        let mut persisted = JsFuture::from(storage.persisted()?).await?.as_bool().unwrap_or(false);
        if !persisted && ask {
            out.requested = true;
            persisted = JsFuture::from(storage.persist()?).await?.as_bool().unwrap_or(false);
        }
        Ok(persisted)
    }
    .await;
    match result {
        Ok(p) => {
            out.persisted = Some(p);
            out.status = Some(if p { "persisted" } else { "not_persisted" }.into());
        }
        Err(e) => {
            out.status = Some("unknown".into());
            out.notes.push(format!("persist check failed: {}", error_text(&e)));
        }
    }
    match storage.estimate() {
        Ok(p) => match JsFuture::from(p).await {
            Ok(est) => {
                let est: web_sys::StorageEstimate = est.unchecked_into();
                out.usage = est.get_usage().map(|u| u as u64);
                out.quota = est.get_quota().map(|q| q as u64);
            }
            Err(e) => out.notes.push(format!("estimate failed: {}", error_text(&e))),
        },
        Err(e) => out.notes.push(format!("estimate failed: {}", error_text(&e))),
    }
    out
}

/// The names of this origin's IndexedDB databases, or why they cannot be listed: from
/// `answer` when given (the promise js/tap.js took at import), else asked now.
pub(crate) async fn database_names(answer: Option<JsValue>) -> Result<Vec<String>, String> {
    let answer = match answer {
        Some(a) => a,
        None => {
            let idb = web_sys::window().and_then(|w| w.indexed_db().ok().flatten()).ok_or("no IndexedDB in this context")?;
            // Not in every browser (Firefox before 126), and behind web-sys's unstable
            // APIs: looked up and called as a plain method.
            let databases: Function = Reflect::get(&idb, &"databases".into())
                .ok()
                .and_then(|f| f.dyn_into().ok())
                .ok_or("indexedDB.databases() is not available")?;
            databases.call0(&idb).map_err(|e| error_text(&e))?
        }
    };
    let promise: js_sys::Promise = answer.dyn_into().map_err(|_| "indexedDB.databases() did not answer a promise".to_owned())?;
    let list = JsFuture::from(promise).await.map_err(|e| error_text(&e))?;
    let list: js_sys::Array = list.dyn_into().map_err(|_| "indexedDB.databases() did not answer a list".to_owned())?;
    Ok(list.iter().filter_map(|d| Reflect::get(&d, &"name".into()).ok()?.as_string()).collect())
}

/// What a MatrixClient (read duck-typed: only its methods are called, each
/// guarded) and the page can tell the report.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientFacts {
    pub user_agent: Option<String>,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub homeserver: Option<String>,
    pub sync_state: Option<String>,
    pub crypto_ready: Option<bool>,
    pub crypto_version: Option<String>,
}

fn call(obj: &JsValue, name: &str) -> Option<JsValue> {
    let f: Function = Reflect::get(obj, &name.into()).ok()?.dyn_into().ok()?;
    f.call0(obj).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

fn text(v: Option<JsValue>) -> Option<String> {
    v.map(|v| v.as_string().unwrap_or_else(|| String::from(js_sys::JsString::from(v))))
}

pub(crate) fn client_facts(mx: &JsValue) -> ClientFacts {
    let mut f = ClientFacts { user_agent: web_sys::window().and_then(|w| w.navigator().user_agent().ok()), ..Default::default() };
    if !(mx.is_object() || mx.is_function()) {
        return f;
    }
    f.user_id = text(call(mx, "getUserId"));
    f.device_id = text(call(mx, "getDeviceId"));
    f.homeserver = text(call(mx, "getHomeserverUrl").or_else(|| Reflect::get(mx, &"baseUrl".into()).ok().filter(|v| v.is_string())));
    f.sync_state = text(call(mx, "getSyncState"));
    let crypto = call(mx, "getCrypto");
    f.crypto_ready = Some(crypto.is_some());
    f.crypto_version = crypto.and_then(|c| text(call(&c, "getVersion")));
    f
}

/// Save `text` as a download named `filename`; false when the page cannot.
pub(crate) fn download_text(filename: &str, text: &str) -> bool {
    let go = || -> Result<(), JsValue> {
        let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
        let parts = js_sys::Array::of1(&text.into());
        let opts = web_sys::BlobPropertyBag::new();
        opts.set_type("application/json");
        let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)?;
        let url = web_sys::Url::create_object_url_with_blob(&blob)?;
        let a: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
        a.set_href(&url);
        a.set_download(filename);
        a.style().set_property("display", "none")?;
        document.body().ok_or("no body")?.append_child(&a)?;
        a.click();
        a.remove();
        // Revoked later: the download reads the blob after click() returns.
        gloo_timers::callback::Timeout::new(10_000, move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        })
        .forget();
        Ok(())
    };
    go().is_ok()
}
