//! Console capture: `installCryptoDiagLog`, `uninstallCryptoDiagLog`,
//! `getCryptoDiagEntries`, `recordCryptoDiagLine`, `clearCryptoDiagEntries`.

use crate::http::carry_out;
use crate::{js, state};
use crypto_health_core::evidence::signature::prefilter_needles;
use crypto_health_core::Config;
use wasm_bindgen::prelude::*;

/// Wrap console debug/log/info/warn/error (pass-through) and start keeping
/// matching lines. Idempotent: a second call changes nothing and returns
/// `false`. Options: `{ capacity = 200, maxMessageBytes = 4096, windowEvents = true, reportPrefix, frames = true }`.
/// Lines logged since the package was imported are fed in first; with
/// `frames`, same-origin iframes' consoles and the widget API messages between
/// host and frames are observed too.
#[wasm_bindgen(js_name = installCryptoDiagLog)]
pub fn install_crypto_diag_log(
    #[wasm_bindgen(unchecked_param_type = "InstallOptions | undefined")] options: JsValue,
) -> Result<bool, JsValue> {
    js::check_options(&options, "installCryptoDiagLog")?;
    let d = Config::default();
    let cfg = Config {
        capacity: js::prop_u64(&options, "capacity").map_or(d.capacity, |n| n.min(usize::MAX as u64) as usize),
        max_message_bytes: js::prop_u64(&options, "maxMessageBytes").map_or(d.max_message_bytes, |n| n.min(usize::MAX as u64) as usize),
    };
    let report_prefix = js::prop_str(&options, "reportPrefix").filter(|p| !p.is_empty());
    let window_events = js::prop_bool(&options, "windowEvents").unwrap_or(true);
    let frames = js::prop_bool(&options, "frames").unwrap_or(true);
    if state::with(|s| s.diag.is_console_installed()).unwrap_or(true) {
        return Ok(false);
    }
    // The journal takes its configuration first: the buffered lines go in during tapInstall.
    state::with(|s| s.diag.console_installed(cfg));
    // One sink for console lines and widget messages (level `widget`, the
    // message's JSON): one closure type in the bundle.
    let sink: state::ConsoleSink = Closure::new(|level: String, message: String, ts: f64, source: String| {
        if level == "widget" {
            state::with(|s| s.diag.widget_message(&message, ts as u64));
            return;
        }
        let effects = state::with(|s| s.diag.console_line_from(&level, &message, &source, ts as u64).1);
        carry_out(effects.unwrap_or_default());
    });
    let installed = js::tap_install(sink.as_ref(), prefilter_needles().into_iter().map(String::from).collect(), window_events, frames);
    state::with(|s| {
        if !installed {
            s.diag.console_uninstalled();
        }
        if let Some(p) = report_prefix {
            s.report_prefix = p;
        }
        s.sink = Some(sink);
    });
    Ok(installed)
}

/// Restore the original console methods and stop capturing; entries stay.
#[wasm_bindgen(js_name = uninstallCryptoDiagLog)]
pub fn uninstall_crypto_diag_log() -> bool {
    let was = js::tap_uninstall();
    state::with(|s| {
        s.diag.console_uninstalled();
        s.sink = None;
    });
    was
}

/// Snapshot of the captured entries, oldest first:
/// `[{ ts, level, ke, signature, severity, message, fields, repeats, lastTs, truncated }]`.
#[wasm_bindgen(js_name = getCryptoDiagEntries, unchecked_return_type = "DiagEntry[]")]
pub fn get_crypto_diag_entries() -> JsValue {
    state::with(|s| js::to_js(&s.diag.entries().collect::<Vec<_>>())).unwrap_or_else(|| js_sys::Array::new().into())
}

/// Per-class counts `{ "KE-1": { count, failures, firstSeen, lastSeen, bySignature }, … }`.
#[wasm_bindgen(js_name = getCryptoDiagCounts, unchecked_return_type = "Record<KeClass | 'other', ClassCount>")]
pub fn get_crypto_diag_counts() -> JsValue {
    state::with(|s| js::to_js(&s.diag.journal().counts())).unwrap_or(JsValue::NULL)
}

/// The findings so far (consistency, identity reset, slow delayed events, …),
/// without building a whole report.
#[wasm_bindgen(js_name = getCryptoDiagFindings, unchecked_return_type = "Finding[]")]
pub fn get_crypto_diag_findings() -> JsValue {
    state::with(|s| js::to_js(s.diag.findings())).unwrap_or_else(|| js_sys::Array::new().into())
}

/// The page's E2EE health as the core decides it: the overall `status` and
/// each KE class's (what the kit's card shows; the report's `health`).
#[wasm_bindgen(js_name = getCryptoDiagHealth, unchecked_return_type = "CryptoDiagHealth")]
pub fn get_crypto_diag_health() -> JsValue {
    let now = js::now();
    state::with(|s| js::to_js(&s.diag.health(now))).unwrap_or(JsValue::NULL)
}

/// Feed one line as if it had been logged (for sources the tap cannot see,
/// such as an iframe's console forwarded by the app). Returns the entry or null.
#[wasm_bindgen(js_name = recordCryptoDiagLine, unchecked_return_type = "DiagEntry | null")]
pub fn record_crypto_diag_line(level: &str, message: &str) -> JsValue {
    let now = js::now();
    let Some((entry, effects)) = state::with(|s| s.diag.console_line(level, message, now)) else {
        return JsValue::NULL;
    };
    carry_out(effects);
    entry.map_or(JsValue::NULL, |e| js::to_js(&e))
}

/// Forget captured entries, counts and findings.
#[wasm_bindgen(js_name = clearCryptoDiagEntries)]
pub fn clear_crypto_diag_entries() {
    state::with(|s| s.diag.clear());
}
