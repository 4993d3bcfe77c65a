//! Bindings to our JS snippets and the JSON bridge between JS and the core's
//! JSON (`crypto_health_core::json`: no serde in the bundle).

use crypto_health_core::support::json::{ToJson, Value};
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
    #[wasm_bindgen(js_name = persistThen)]
    pub fn persist_then(ask: bool, done: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = consistencyThen)]
    pub fn consistency_then(done: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = clientFacts)]
    pub fn client_facts(mx: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = downloadText)]
    pub fn download_text(filename: &str, text: &str) -> bool;
}

#[wasm_bindgen(module = "/js/http.js")]
extern "C" {
    #[wasm_bindgen(js_name = httpInstall)]
    pub fn http_install(before_upload: &JsValue, after_exchange: &JsValue, break_upload_storm: bool) -> bool;
    #[wasm_bindgen(js_name = httpUninstall)]
    pub fn http_uninstall() -> bool;
    #[wasm_bindgen(js_name = httpStats)]
    pub fn http_stats() -> JsValue;
    #[wasm_bindgen(js_name = emitRecovery)]
    pub fn emit_recovery(detail: &JsValue);
    #[wasm_bindgen(js_name = clearRecovery)]
    pub fn clear_recovery();
    #[wasm_bindgen(js_name = addRecoveryListener)]
    pub fn add_recovery_listener(cb: &JsValue) -> JsValue;
}

/// Property readers for plain objects built by our own snippets (no JSON round trip).
pub fn prop_str(o: &JsValue, k: &str) -> Option<String> {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).ok()?.as_string()
}

pub fn prop_f64(o: &JsValue, k: &str) -> Option<f64> {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).ok()?.as_f64()
}

pub fn prop_bool(o: &JsValue, k: &str) -> Option<bool> {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).ok()?.as_bool()
}

/// A model value as a plain JS value (via JSON: small payloads, no extra crate).
pub fn to_js<T: ToJson>(v: &T) -> JsValue {
    js_sys::JSON::parse(&v.to_json_string()).unwrap_or(JsValue::NULL)
}

/// A plain JS value as a JSON value (`Null` for anything JSON cannot hold).
/// Read with the core's small parser.
pub fn from_js(v: &JsValue) -> Value {
    if v.is_undefined() || v.is_null() {
        return Value::Null;
    }
    js_sys::JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .and_then(|s| crypto_health_core::otk::python_repr::parse_json(&s))
        .unwrap_or(Value::Null)
}

/// Field readers over a JSON object from JS.
pub fn str_of(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// The strings of an array field; `None` when the field is not an array.
pub fn strings_of(v: &Value, k: &str) -> Option<Vec<String>> {
    match v.get(k) {
        Some(Value::Array(a)) => Some(a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect()),
        _ => None,
    }
}

pub fn bool_of(v: &Value, k: &str) -> Option<bool> {
    v.get(k).and_then(Value::as_bool)
}

pub fn u64_of(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(|x| x.as_u64().or_else(|| x.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)))
}

/// Unix milliseconds, whole.
pub fn now() -> u64 {
    js_sys::Date::now() as u64
}
