//! The JavaScript that must stay JavaScript: the synchronous console and
//! fetch wrappers (js/tap.js, js/http.js), and the translation of values
//! between JS and the core's serde types (JSON text both ways).

use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/tap.js")]
extern "C" {
    #[wasm_bindgen(js_name = tapInstall)]
    pub fn tap_install(sink: &JsValue, needles: Vec<String>, window_events: bool, frames: bool) -> bool;
    #[wasm_bindgen(js_name = tapUninstall)]
    pub fn tap_uninstall() -> bool;
    #[wasm_bindgen(js_name = tapStats)]
    pub fn tap_stats() -> JsValue;
    #[wasm_bindgen(js_name = tapStop)]
    pub fn tap_stop();
    #[wasm_bindgen(js_name = tapPause)]
    pub fn tap_pause(on: bool);
    #[wasm_bindgen(js_name = plainJson)]
    fn plain_json(v: &JsValue) -> Option<String>;
    /// What the package's import starts (the loader calls it): the console's early buffer and
    /// the list of IndexedDB databases. Bound for the browser tests, which have no loader.
    #[wasm_bindgen(js_name = tapEarly)]
    pub fn tap_early() -> bool;
    /// The databases listed at import, once: `[time, promise of the list]`, or null.
    #[wasm_bindgen(js_name = tapDatabases)]
    pub fn tap_databases() -> JsValue;
}

#[wasm_bindgen(module = "/js/http.js")]
extern "C" {
    #[wasm_bindgen(js_name = httpInstall)]
    pub fn http_install(
        before_upload: &JsValue,
        after_exchange: &JsValue,
        break_upload_storm: bool,
        watch: &str,
        upload: &str,
        sync: &str,
    ) -> bool;
    #[wasm_bindgen(js_name = httpUninstall)]
    pub fn http_uninstall() -> bool;
    #[wasm_bindgen(js_name = httpStats)]
    pub fn http_stats() -> JsValue;
    #[wasm_bindgen(js_name = httpStop)]
    pub fn http_stop();
    #[wasm_bindgen(js_name = emitRecovery)]
    pub fn emit_recovery(detail: &JsValue);
    #[wasm_bindgen(js_name = clearRecovery)]
    pub fn clear_recovery();
    #[wasm_bindgen(js_name = addRecoveryListener)]
    pub fn add_recovery_listener(cb: &JsValue) -> JsValue;
}

#[wasm_bindgen(module = "/js/decrypt.js")]
extern "C" {
    #[wasm_bindgen(js_name = decryptWatch)]
    pub fn decrypt_watch(mx: &JsValue, hook: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = decryptStop)]
    pub fn decrypt_stop();
}

/// A model value as a plain JS value. Through JSON text on purpose: every
/// model type then has one serializer in the bundle (serde_json's, which the
/// report needs anyway) instead of a second one per type for
/// serde-wasm-bindgen, and `JSON.parse` builds plain objects fast.
pub fn to_js<T: Serialize + ?Sized>(v: &T) -> JsValue {
    parse(serde_json::to_string(v).ok())
}

/// The non-generic half of [`to_js`], kept out of its copy per type.
fn parse(text: Option<String>) -> JsValue {
    text.and_then(|t| js_sys::JSON::parse(&t).ok()).unwrap_or(JsValue::NULL)
}

/// A JS value the app handed us, as JSON: its own enumerable data properties,
/// written by js/tap.js without running the app's getters or `toJSON`, then
/// read by serde_json's parser (the one JSON front end in the bundle). `None`
/// when it has no JSON form.
pub fn json_of(v: &JsValue) -> Option<serde_json::Value> {
    if v.is_undefined() || v.is_null() {
        return None;
    }
    serde_json::from_str(&plain_json(v)?).ok()
}

/// Property readers for plain objects built by our own snippets.
pub fn prop_str(o: &JsValue, k: &str) -> Option<String> {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).ok()?.as_string()
}

pub fn prop_f64(o: &JsValue, k: &str) -> Option<f64> {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).ok()?.as_f64()
}

pub fn prop_bool(o: &JsValue, k: &str) -> Option<bool> {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).ok()?.as_bool()
}

/// A non-negative whole number property (options, counters).
pub fn prop_u64(o: &JsValue, k: &str) -> Option<u64> {
    prop_f64(o, k).filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64)
}

/// Options objects: `undefined`/`null` or an object, else the named error.
pub fn check_options(options: &JsValue, what: &str) -> Result<(), JsValue> {
    if options.is_undefined() || options.is_null() || options.is_object() {
        Ok(())
    } else {
        Err(crate::errors::error(crate::errors::Code::InvalidArgument, &format!("{what}: options must be an object")))
    }
}

/// Unix milliseconds, whole.
pub fn now() -> u64 {
    js_sys::Date::now() as u64
}

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues` into `buf` (throws where the page has no Web Crypto).
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
}

/// 16 bytes from `crypto.getRandomValues` (wasm32-unknown-unknown has no OS
/// randomness of its own), or `None` where the page has no Web Crypto: masks
/// then carry no fingerprint rather than a guessable one.
pub fn random_key() -> Option<[u8; 16]> {
    let mut key = [0u8; 16];
    get_random_values(&mut key).ok()?;
    (key != [0u8; 16]).then_some(key)
}

/// Every Promise of the API comes from here, over a boxed future: one
/// `future_to_promise` (and its task glue) in the wasm rather than one per
/// async export. The future resolves the promise; it never rejects.
pub(crate) fn promise(f: Pin<Box<dyn Future<Output = JsValue>>>) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move { Ok(f.await) })
}
