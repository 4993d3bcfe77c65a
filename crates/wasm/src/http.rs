//! KE-1 over HTTP: `installHttpTap`, `otkHealth`, `onRecoveryNeeded`.
//! The fetch tap (js/http.js) hands us watched exchanges; the core decides,
//! and [`carry_out`] does what it asked.

use crate::errors::{self, Code};
use crate::{browser, js, state, storage_keys};
use crypto_health_core::diagnostics::{DeviceMemory, Effect, Exchange};
use crypto_health_core::evidence::http::url_tests;
use crypto_health_core::otk::breaker::KeptResponse;
use crypto_health_core::otk::health::MonitorConfig;
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// Carry out what the core asked for, outside any state borrow.
pub(crate) fn carry_out(effects: Vec<Effect>) {
    for e in effects {
        match e {
            Effect::RememberDevice { user_id, device_id, memory } => {
                if let Ok(text) = serde_json::to_string(&memory) {
                    browser::ls_set(&storage_keys::device_memory(&user_id, &device_id), &text);
                }
            }
            Effect::RememberStoreSeen { user_id, device_id, at, prefix } => {
                browser::ls_set(&storage_keys::store_seen(user_id.as_deref(), device_id.as_deref()), &at.to_string());
                browser::ls_set(&storage_keys::store_prefix(user_id.as_deref(), device_id.as_deref()), &prefix);
            }
            Effect::RememberEviction { user_id, device_id, at } => {
                browser::ls_set(&storage_keys::store_evicted(user_id.as_deref(), device_id.as_deref()), &at.to_string());
            }
            Effect::RecoveryNeeded(r) => js::emit_recovery(&js::to_js(&r)),
            Effect::Recovered => js::clear_recovery(),
        }
    }
}

/// Point the core at the session's device, with what an earlier page load
/// remembered about it. Reads JS first, then borrows the state.
fn sync_device() {
    let sess = browser::session();
    let (Some(user), Some(device)) = (sess.user_id, sess.device_id) else { return };
    if !state::with(|s| s.diag.wants_device_memory(&device)).unwrap_or(false) {
        return;
    }
    let memory = browser::ls_get(&storage_keys::device_memory(&user, &device)).and_then(|t| DeviceMemory::from_json(&t));
    state::with(|s| s.diag.session_device(&user, &device, memory));
}

/// The kept 400 as js/http.js builds a `Response` from it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalAnswer<'a> {
    status: u16,
    status_text: &'a str,
    content_type: Option<&'a str>,
    body: &'a str,
}

fn before_upload(body: String) -> JsValue {
    sync_device();
    let now = js::now();
    let Some(answer) = state::with(|s| s.diag.before_upload(&body, now)) else { return JsValue::NULL };
    carry_out(answer.effects);
    match answer.kept {
        Some(KeptResponse { status, status_text, content_type, body, .. }) => {
            js::to_js(&LocalAnswer { status, status_text: &status_text, content_type: content_type.as_deref(), body: &body })
        }
        None => JsValue::NULL,
    }
}

fn after_exchange(info: JsValue, body: Option<String>) {
    let method = js::prop_str(&info, "method").unwrap_or_default();
    let url = js::prop_str(&info, "url").unwrap_or_default();
    let status_text = js::prop_str(&info, "statusText").unwrap_or_default();
    let content_type = js::prop_str(&info, "contentType");
    let error = js::prop_str(&info, "error");
    let ex = Exchange {
        method: &method,
        url: &url,
        status: js::prop_f64(&info, "status").filter(|s| (1.0..=999.0).contains(s)).map(|s| s as u16),
        status_text: &status_text,
        content_type: content_type.as_deref(),
        aborted: js::prop_bool(&info, "aborted").unwrap_or(false),
        duration_ms: js::prop_u64(&info, "durationMs").unwrap_or(0),
        response_body: body.as_deref(),
        error: error.as_deref(),
        answered_locally: js::prop_bool(&info, "local").unwrap_or(false),
        body_error: js::prop_bool(&info, "bodyError").unwrap_or(false),
        body_not_read: js::prop_bool(&info, "bodyNotRead").unwrap_or(false),
    };
    let now = js::now();
    let effects = state::with(|s| s.diag.exchange(&ex, now));
    carry_out(effects.unwrap_or_default());
}

/// Wrap `fetch` to watch `keys/upload`, delayed events and `sendToDevice`
/// (observe only, unless `breakUploadStorm`). Idempotent: a second call
/// returns `false` and only updates the options. Options:
/// `{ breakUploadStorm = false, stormThreshold = 3, stormWindowMs = 600000 }`.
#[wasm_bindgen(js_name = installHttpTap)]
pub fn install_http_tap(#[wasm_bindgen(unchecked_param_type = "HttpTapOptions | undefined")] options: JsValue) -> Result<bool, JsValue> {
    js::check_options(&options, "installHttpTap")?;
    let breaker = js::prop_bool(&options, "breakUploadStorm").unwrap_or(false);
    let d = MonitorConfig::default();
    let cfg = MonitorConfig {
        storm_threshold: js::prop_u64(&options, "stormThreshold").map_or(d.storm_threshold, |n| n.min(u32::MAX as u64) as u32),
        storm_window_ms: js::prop_u64(&options, "stormWindowMs").unwrap_or(d.storm_window_ms),
    };
    sync_device();
    let hooks_exist = state::with(|s| s.http_hooks.is_some()).unwrap_or(true);
    let tests = url_tests();
    let installed = if hooks_exist {
        js::http_install(&JsValue::NULL, &JsValue::NULL, breaker, &tests.watch, &tests.upload, &tests.sync)
    } else {
        let before = Closure::<dyn FnMut(String) -> JsValue>::new(before_upload);
        let after = Closure::<dyn FnMut(JsValue, Option<String>)>::new(after_exchange);
        let ok = js::http_install(before.as_ref(), after.as_ref(), breaker, &tests.watch, &tests.upload, &tests.sync);
        if ok {
            state::with(|s| s.http_hooks = Some((before, after)));
        }
        ok
    };
    state::with(|s| {
        if installed || s.diag.http().installed {
            s.diag.http_installed(cfg, breaker);
        }
    });
    Ok(installed)
}

/// Restore the original `fetch` (if nobody wrapped it after us); state stays.
#[wasm_bindgen(js_name = uninstallHttpTap)]
pub fn uninstall_http_tap() -> bool {
    let was = js::http_uninstall();
    state::with(|s| {
        s.diag.http_uninstalled();
        s.http_hooks = None;
    });
    was
}

/// The one-time-key health of this device: `{ outcome: 'healthy' | 'retrying'
/// | 'diverged' | 'unrecoverable', phase, proof, trigger, recommendation, … }`.
#[wasm_bindgen(js_name = otkHealth, unchecked_return_type = "OtkHealth")]
pub fn otk_health() -> JsValue {
    state::with(|s| js::to_js(&s.diag.otk_health())).unwrap_or(JsValue::NULL)
}

/// Call `callback(event)` once per upload storm with the proof, the likely
/// trigger and the recommendation. A storm already under way is delivered at
/// once. Also dispatched as `crypto-health:recovery-needed` on `window`.
/// Returns a function that unsubscribes.
#[wasm_bindgen(js_name = onRecoveryNeeded, unchecked_return_type = "() => void")]
pub fn on_recovery_needed(
    #[wasm_bindgen(unchecked_param_type = "(event: RecoveryNeeded) => void")] callback: JsValue,
) -> Result<JsValue, JsValue> {
    if !callback.is_function() {
        return Err(errors::error(Code::InvalidArgument, "onRecoveryNeeded: callback must be a function"));
    }
    Ok(js::add_recovery_listener(&callback))
}
