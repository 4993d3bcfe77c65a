//! `buildCryptoDiagReport` and `downloadCryptoDiagReport`: what the page
//! knows goes into the core's `Context`; the core builds the report.

use crate::errors::{self, Code};
use crate::{browser, guard, js, state};
use crypto_health_core::report::{Context, Session, Versions};
use crypto_health_core::support::text::iso8601;
use crypto_health_core::TapCounters;
use wasm_bindgen::prelude::*;

fn build(mx: &JsValue, extra: &JsValue) -> Result<String, JsValue> {
    if !(extra.is_undefined() || extra.is_null() || extra.is_object()) {
        return Err(errors::error(Code::InvalidArgument, "buildCryptoDiagReport: extra must be an object"));
    }
    // Read everything from JS before borrowing our state: the client's methods
    // may log, and that log line must find the state free.
    let facts = browser::client_facts(mx);
    let sess = browser::session();
    let extra_value = js::json_of(extra).unwrap_or(serde_json::Value::Null);
    let tap = js::tap_stats();
    let http_tap = js::http_stats();
    let versions = Versions {
        app: text_of(&extra_value, "appVersion"),
        sdk: text_of(&extra_value, "sdkVersion"),
        crypto: facts.crypto_version.or_else(|| text_of(&extra_value, "cryptoVersion")),
    };
    let now = js::now();
    let tab_guard = guard::current();
    let ctx = Context {
        versions,
        user_agent: facts.user_agent,
        session: Session {
            user_id: facts.user_id.or(sess.user_id),
            device_id: facts.device_id.or(sess.device_id),
            homeserver: facts.homeserver.or(sess.homeserver),
        },
        sync_state: facts.sync_state,
        crypto_ready: facts.crypto_ready,
        storage: Default::default(),
        extra: extra_value,
    };
    state::with(|s| {
        s.diag.tab_guard(tab_guard);
        // No console tap: its stats are not an object and every read is None.
        s.diag.tap_counters(TapCounters {
            console_seen: js::prop_u64(&tap, "seen"),
            console_errors: js::prop_u64(&tap, "errors").unwrap_or(0) + js::prop_u64(&tap, "dropped").unwrap_or(0),
            args_not_read: js::prop_u64(&tap, "notRead").unwrap_or(0),
            http_errors: js::prop_u64(&http_tap, "errors").unwrap_or(0),
        });
        if tap.is_object() {
            let frames = js::prop_str(&tap, "frames").unwrap_or_default();
            s.diag.tap_frames(&frames, js::prop_u64(&tap, "earlyFed").unwrap_or(0), js::prop_u64(&tap, "earlyDropped").unwrap_or(0));
        }
        serde_json::to_string(&s.diag.report(ctx, now)).map_err(|e| errors::error(Code::Internal, &format!("buildCryptoDiagReport: {e}")))
    })
    .unwrap_or_else(|| Err(errors::error(Code::Reentrant, "buildCryptoDiagReport: called re-entrantly")))
}

/// The diagnostics report as a JSON string (schema `schema/report.schema.json`).
/// `mx`: an optional MatrixClient, read duck-typed (ids, sync state, crypto).
/// `extra`: what the app knows, e.g. `{ appVersion, sdkVersion }`: its own
/// enumerable data properties (no getter or `toJSON` of the app runs; bounded
/// in depth and size; no JSON form: `null`); redacted.
#[wasm_bindgen(js_name = buildCryptoDiagReport)]
pub fn build_crypto_diag_report(mx: JsValue, extra: JsValue) -> Result<String, JsValue> {
    build(&mx, &extra)
}

/// Build the report and save it as `<prefix>-<UTC timestamp>.json` (prefix
/// `crypto-health-report` unless `installCryptoDiagLog({ reportPrefix })` set
/// another). Returns the file name.
#[wasm_bindgen(js_name = downloadCryptoDiagReport)]
pub fn download_crypto_diag_report(mx: JsValue, extra: JsValue) -> Result<String, JsValue> {
    let text = build(&mx, &extra)?;
    // Indented by the browser's JSON: a second (pretty) serde_json writer
    // would cost the bundle more than the whole download.
    let pretty = js_sys::JSON::parse(&text)
        .and_then(|v| js_sys::JSON::stringify_with_replacer_and_space(&v, &JsValue::NULL, &JsValue::from(2)))
        .ok()
        .and_then(|t| t.as_string())
        .map_or(text, |t| t + "\n");
    let prefix = state::with(|s| s.report_prefix.clone()).unwrap_or_else(|| state::DEFAULT_REPORT_PREFIX.into());
    let name = format!("{prefix}-{}.json", file_stamp(js::now()));
    if browser::download_text(&name, &pretty) {
        Ok(name)
    } else {
        Err(errors::error(Code::Unavailable, "downloadCryptoDiagReport: this page cannot start a download (no document?)"))
    }
}

/// `2026-11-21T20-13-37Z`: ISO without characters that file systems dislike.
fn file_stamp(ms: u64) -> String {
    // `iso8601` is ASCII: byte 19 is where the milliseconds start.
    let mut name = iso8601(ms).replace(':', "-");
    name.truncate(19);
    name.push('Z');
    name
}

/// A string field of the app's `extra` (already read without running its code).
fn text_of(extra: &serde_json::Value, key: &str) -> Option<String> {
    extra.get(key)?.as_str().map(str::to_owned)
}
