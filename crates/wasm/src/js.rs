//! Bindings to our JS snippets and the JSON bridge between JS and serde.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/tap.js")]
extern "C" {
    #[wasm_bindgen(js_name = tapInstall)]
    pub fn tap_install(sink: &JsValue, needles: Vec<String>, window_events: bool) -> bool;
    #[wasm_bindgen(js_name = tapUninstall)]
    pub fn tap_uninstall() -> bool;
    #[wasm_bindgen(js_name = tapStats)]
    pub fn tap_stats() -> JsValue;
}

#[wasm_bindgen(module = "/js/env.js")]
extern "C" {
    #[wasm_bindgen(js_name = readSession)]
    pub fn read_session() -> JsValue;
    #[wasm_bindgen(js_name = lsGet)]
    pub fn ls_get(key: &str) -> Option<String>;
    #[wasm_bindgen(js_name = lsSet)]
    pub fn ls_set(key: &str, value: &str) -> bool;
    #[wasm_bindgen(js_name = listDatabases)]
    pub fn list_databases() -> js_sys::Promise;
    #[wasm_bindgen(js_name = persistStorage)]
    pub fn persist_storage(ask: bool) -> js_sys::Promise;
    #[wasm_bindgen(js_name = clientFacts)]
    pub fn client_facts(mx: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = downloadText)]
    pub fn download_text(filename: &str, text: &str) -> bool;
}

/// A serde value as a plain JS value (via JSON: small payloads, no extra crate).
pub fn to_js<T: Serialize>(v: &T) -> JsValue {
    serde_json::to_string(v).ok().and_then(|s| js_sys::JSON::parse(&s).ok()).unwrap_or(JsValue::NULL)
}

/// A plain JS value read into a serde type; `None` if it does not fit.
pub fn from_js<T: DeserializeOwned>(v: &JsValue) -> Option<T> {
    if v.is_undefined() || v.is_null() {
        return None;
    }
    let s: String = js_sys::JSON::stringify(v).ok()?.into();
    serde_json::from_str(&s).ok()
}

/// Await a promise from our snippets (which never reject) and read the result.
pub async fn await_json<T: DeserializeOwned>(p: js_sys::Promise) -> Option<T> {
    let v = wasm_bindgen_futures::JsFuture::from(p).await.ok()?;
    from_js(&v)
}

pub fn now() -> f64 {
    js_sys::Date::now()
}
