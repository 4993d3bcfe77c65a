//! KE-1 over HTTP: `installHttpTap`, `otkHealth`, `onRecoveryNeeded`.
//! The fetch tap (js/http.js) hands us watched exchanges; the core decides.

use crate::js::{self, prop_bool, prop_f64, prop_str};
use crate::{state, storage};
use crypto_health_core::ingest::{self, Exchange};
use crypto_health_core::otk::health::{Event, MonitorConfig};
use crypto_health_core::otk::breaker::KeptResponse;
use crypto_health_core::support::json::{object, ToJson, Value};
use wasm_bindgen::prelude::*;

fn device_key(user: &str, device: &str) -> String {
    format!("crypto-health:device:{user}|{device}")
}

/// Carry out what the core asked for, outside any state borrow.
pub(crate) fn run_events(events: Vec<Event>) {
    for e in events {
        match e {
            Event::Remember { ed25519, first_seen_at, max_accepted_counter } => {
                if let Some((Some(u), Some(d))) = state::with(|s| (s.otk.user_id.clone(), s.otk.device_id.clone())) {
                    let v = json!({ "ed25519": ed25519, "firstSeenAt": first_seen_at, "maxAcceptedCounter": max_accepted_counter });
                    js::ls_set(&device_key(&u, &d), &v.to_json_string());
                }
            }
            Event::RecoveryNeeded(r) => js::emit_recovery(&js::to_js(&r)),
            Event::Recovered { .. } => js::clear_recovery(),
            Event::Finding(_) => {} // already in the journal
        }
    }
}

/// Point the monitor at the session's device, loading what an earlier page
/// load remembered about it. Reads JS first, then borrows the state.
fn sync_device() {
    let sess = storage::session();
    let (Some(user), Some(device)) = (sess.user_id, sess.device_id) else { return };
    let changed = state::with(|s| s.otk.device_id.as_deref() != Some(device.as_str())).unwrap_or(false);
    let remembered = if changed { js::ls_get(&device_key(&user, &device)) } else { None };
    let remembered: Value = remembered.and_then(|t| crypto_health_core::otk::python_repr::parse_json(&t)).unwrap_or(Value::Null);
    state::with(|s| {
        if changed {
            s.otk.set_device(Some(&user), Some(&device));
            s.otk.remember(
                js::str_of(&remembered, "ed25519"),
                js::u64_of(&remembered, "firstSeenAt"),
                js::u64_of(&remembered, "maxAcceptedCounter"),
            );
        }
        // The consistency check's verdict, once it has run.
        if s.storage.is_some() {
            s.otk.store_missing = Some(s.journal.findings.iter().any(|f| f.id == "crypto_store_missing"));
        }
    });
}

fn before_upload(body: String) -> JsValue {
    sync_device();
    let now = js::now();
    let Some((_, kept, events)) = state::with(|s| ingest::before_upload(&mut s.journal, &mut s.otk, &body, now)) else {
        return JsValue::NULL;
    };
    run_events(events);
    match kept {
        Some(k) => kept_to_js(&k),
        None => JsValue::NULL,
    }
}

fn kept_to_js(k: &KeptResponse) -> JsValue {
    let v = json!({ "status": k.status, "statusText": k.status_text.clone(), "contentType": k.content_type.clone(), "body": k.body.clone() });
    js::to_js(&v)
}

fn after_exchange(info: JsValue, body: Option<String>) {
    let method = prop_str(&info, "method").unwrap_or_default();
    let url = prop_str(&info, "url").unwrap_or_default();
    let status = prop_f64(&info, "status").filter(|s| *s >= 1.0 && *s <= 999.0).map(|s| s as u16);
    let status_text = prop_str(&info, "statusText").unwrap_or_default();
    let content_type = prop_str(&info, "contentType");
    let error = prop_str(&info, "error");
    let ex = Exchange {
        method: &method,
        url: &url,
        status,
        status_text: &status_text,
        content_type: content_type.as_deref(),
        aborted: prop_bool(&info, "aborted").unwrap_or(false),
        duration_ms: prop_f64(&info, "durationMs").filter(|d| d.is_finite() && *d >= 0.0).unwrap_or(0.0) as u64,
        response_body: body.as_deref(),
        error: error.as_deref(),
        answered_locally: prop_bool(&info, "local").unwrap_or(false),
    };
    let body_error = prop_bool(&info, "bodyError").unwrap_or(false);
    let now = js::now();
    let events = state::with(|s| {
        if body_error {
            s.http.body_read_errors += 1;
        }
        ingest::exchange(&mut s.journal, &mut s.otk, &mut s.http, &ex, now)
    });
    run_events(events.unwrap_or_default());
}

/// Wrap `fetch` to watch `keys/upload`, delayed events and `sendToDevice`
/// (observe only, unless `breakUploadStorm`). Idempotent: a second call
/// returns `false` and only updates the options. Options:
/// `{ breakUploadStorm = false, stormThreshold = 3, stormWindowMs = 600000 }`.
#[wasm_bindgen(js_name = installHttpTap)]
pub fn install_http_tap(#[wasm_bindgen(unchecked_param_type = "HttpTapOptions | undefined")] options: JsValue) -> Result<bool, JsError> {
    if !(options.is_undefined() || options.is_null() || options.is_object()) {
        return Err(JsError::new("installHttpTap: options must be an object"));
    }
    let opts = js::from_js(&options);
    let breaker = js::bool_of(&opts, "breakUploadStorm").unwrap_or(false);
    let d = MonitorConfig::default();
    let cfg = MonitorConfig {
        storm_threshold: js::u64_of(&opts, "stormThreshold").map_or(d.storm_threshold, |n| n.min(u32::MAX as u64) as u32),
        storm_window_ms: js::u64_of(&opts, "stormWindowMs").unwrap_or(d.storm_window_ms),
    }
    .clamped();
    sync_device();
    let hooks_exist = state::with(|s| s.http_hooks.is_some()).unwrap_or(true);
    let installed = if hooks_exist {
        js::http_install(&JsValue::NULL, &JsValue::NULL, breaker)
    } else {
        let before = Closure::<dyn FnMut(String) -> JsValue>::new(before_upload);
        let after = Closure::<dyn FnMut(JsValue, Option<String>)>::new(after_exchange);
        let ok = js::http_install(before.as_ref(), after.as_ref(), breaker);
        if ok {
            state::with(|s| s.http_hooks = Some((before, after)));
        }
        ok
    };
    state::with(|s| {
        s.otk.cfg = cfg;
        s.otk.breaker.enabled = breaker;
        s.http.breaker_enabled = breaker;
        s.http.installed = s.http.installed || installed;
    });
    Ok(installed)
}

/// Restore the original `fetch` (if nobody wrapped it after us); state stays.
#[wasm_bindgen(js_name = uninstallHttpTap)]
pub fn uninstall_http_tap() -> bool {
    let was = js::http_uninstall();
    state::with(|s| {
        s.http.installed = false;
        s.http_hooks = None;
    });
    was
}

/// The one-time-key health of this device: `{ outcome: 'healthy' | 'retrying'
/// | 'diverged' | 'unrecoverable', phase, proof, trigger, recommendation, … }`.
#[wasm_bindgen(js_name = otkHealth, unchecked_return_type = "OtkHealth")]
pub fn otk_health() -> JsValue {
    state::with(|s| js::to_js(&s.otk.snapshot())).unwrap_or(JsValue::NULL)
}

/// Call `callback(event)` once per upload storm with the proof, the likely
/// trigger and the recommendation. A storm already under way is delivered at
/// once. Also dispatched as `crypto-health:recovery-needed` on `window`.
/// Returns a function that unsubscribes.
#[wasm_bindgen(js_name = onRecoveryNeeded, unchecked_return_type = "() => void")]
pub fn on_recovery_needed(#[wasm_bindgen(unchecked_param_type = "(event: RecoveryNeeded) => void")] callback: JsValue) -> Result<JsValue, JsError> {
    if !callback.is_function() {
        return Err(JsError::new("onRecoveryNeeded: callback must be a function"));
    }
    Ok(js::add_recovery_listener(&callback))
}
