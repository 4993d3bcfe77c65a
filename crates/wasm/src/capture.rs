//! Console capture: `installCryptoDiagLog`, `uninstallCryptoDiagLog`,
//! `getCryptoDiagEntries`, `clearCryptoDiagEntries`.

use crate::{js, state};
use crypto_health_core::evidence::signature::prefilter_needles;
use crypto_health_core::{ingest, Config, Journal};
use wasm_bindgen::prelude::*;

/// Wrap console debug/log/info/warn/error (pass-through) and start keeping
/// matching lines. Idempotent: a second call changes nothing and returns
/// `false`. Options: `{ capacity = 200, maxMessageBytes = 4096, windowEvents = true, reportPrefix }`.
#[wasm_bindgen(js_name = installCryptoDiagLog)]
pub fn install_crypto_diag_log(#[wasm_bindgen(unchecked_param_type = "InstallOptions | undefined")] options: JsValue) -> Result<bool, JsError> {
    if !(options.is_undefined() || options.is_null() || options.is_object()) {
        return Err(JsError::new("installCryptoDiagLog: options must be an object"));
    }
    let opts = js::from_js(&options);
    let capacity = js::u64_of(&opts, "capacity").map(|n| n as usize);
    let max_message_bytes = js::u64_of(&opts, "maxMessageBytes").map(|n| n as usize);
    let report_prefix = js::str_of(&opts, "reportPrefix").filter(|p| !p.is_empty());
    let already = state::with(|s| s.installed).unwrap_or(true);
    if already {
        return Ok(false);
    }
    let sink = Closure::<dyn FnMut(String, String, f64)>::new(|level: String, message: String, ts: f64| {
        let events = state::with(|s| ingest::console_line(&mut s.journal, &mut s.otk, &level, &message, ts as u64, false).1);
        crate::http::run_events(events.unwrap_or_default());
    });
    let window_events = js::bool_of(&opts, "windowEvents").unwrap_or(true);
    let installed = js::tap_install(sink.as_ref(), prefilter_needles().into_iter().map(String::from).collect(), window_events);
    state::with(|s| {
        let d = Config::default();
        let cfg = Config { capacity: capacity.unwrap_or(d.capacity), max_message_bytes: max_message_bytes.unwrap_or(d.max_message_bytes) };
        if s.journal.is_empty() && s.journal.lines_seen == 0 {
            s.journal = Journal::new(cfg);
        }
        if let Some(p) = report_prefix {
            s.report_prefix = p;
        }
        s.installed = installed;
        s.sink = Some(sink);
    });
    Ok(installed)
}

/// Restore the original console methods and stop capturing; entries stay.
#[wasm_bindgen(js_name = uninstallCryptoDiagLog)]
pub fn uninstall_crypto_diag_log() -> bool {
    let was = js::tap_uninstall();
    state::with(|s| {
        s.installed = false;
        s.sink = None;
    });
    was
}

/// Snapshot of the captured entries, oldest first:
/// `[{ ts, level, ke, signature, severity, message, fields, repeats, lastTs, truncated }]`.
#[wasm_bindgen(js_name = getCryptoDiagEntries, unchecked_return_type = "DiagEntry[]")]
pub fn get_crypto_diag_entries() -> JsValue {
    state::with(|s| js::to_js(&s.journal.entries().collect::<Vec<_>>())).unwrap_or_else(|| js_sys::Array::new().into())
}

/// Per-class counts `{ "KE-1": { count, failures, firstSeen, lastSeen, bySignature }, … }`.
#[wasm_bindgen(js_name = getCryptoDiagCounts, unchecked_return_type = "Record<KeClass | 'other', ClassCount>")]
pub fn get_crypto_diag_counts() -> JsValue {
    state::with(|s| js::to_js(&s.journal.counts())).unwrap_or(JsValue::NULL)
}

/// The findings so far (consistency, identity reset, slow delayed events, …),
/// without building a whole report.
#[wasm_bindgen(js_name = getCryptoDiagFindings, unchecked_return_type = "Finding[]")]
pub fn get_crypto_diag_findings() -> JsValue {
    state::with(|s| js::to_js(&s.journal.findings)).unwrap_or_else(|| js_sys::Array::new().into())
}

/// Feed one line as if it had been logged (for sources the tap cannot see,
/// such as an iframe's console forwarded by the app). Returns the entry or null.
#[wasm_bindgen(js_name = recordCryptoDiagLine, unchecked_return_type = "DiagEntry | null")]
pub fn record_crypto_diag_line(level: &str, message: &str) -> JsValue {
    let ts = js::now();
    let Some((entry, events)) = state::with(|s| ingest::console_line(&mut s.journal, &mut s.otk, level, message, ts, true)) else {
        return JsValue::NULL;
    };
    crate::http::run_events(events);
    entry.map_or(JsValue::NULL, |e| js::to_js(&e))
}

/// Forget captured entries, counts and findings.
#[wasm_bindgen(js_name = clearCryptoDiagEntries)]
pub fn clear_crypto_diag_entries() {
    state::with(|s| s.journal.clear());
}
