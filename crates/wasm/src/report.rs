//! `buildCryptoDiagReport` and `downloadCryptoDiagReport`.

use crate::prelude::*;
use crate::js::{self, bool_of, str_of, u64_of};
use crate::{guard, state, storage};
use crypto_health_core::report::{Context, Session, Storage, Versions};
use crypto_health_core::json::ToJson;
use crypto_health_core::text::iso8601;
use crypto_health_core::Report;
use wasm_bindgen::prelude::*;

fn build(mx: &JsValue, extra: &JsValue) -> Result<String, JsError> {
    if !(extra.is_undefined() || extra.is_null() || extra.is_object()) {
        return Err(JsError::new("buildCryptoDiagReport: extra must be an object"));
    }
    // Read everything from JS before borrowing our state: the client's getters
    // may log, and that log line must find the state free.
    let facts = js::from_js(&js::client_facts(mx));
    let sess = storage::session();
    let extra = js::from_js(extra);
    let tap = js::from_js(&js::tap_stats());
    let http_tap = js::from_js(&js::http_stats());
    let versions = Versions {
        app: str_of(&extra, "appVersion"),
        sdk: str_of(&extra, "sdkVersion"),
        crypto: str_of(&facts, "cryptoVersion").or_else(|| str_of(&extra, "cryptoVersion")),
    };
    let now = js::now();
    let tab_guard = guard::current();
    state::with(|s| {
        let storage = s.storage.clone().unwrap_or_else(|| Storage {
            notes: vec!["requestPersistentStorage() and checkCryptoStoreConsistency() were not called".into()],
            ..Default::default()
        });
        let ctx = Context {
            versions,
            user_agent: str_of(&facts, "userAgent"),
            session: Session {
                user_id: str_of(&facts, "userId").or(sess.user_id),
                device_id: str_of(&facts, "deviceId").or(sess.device_id),
                homeserver: str_of(&facts, "homeserver").or(sess.homeserver),
            },
            sync_state: str_of(&facts, "syncState"),
            crypto_ready: bool_of(&facts, "cryptoReady"),
            storage,
            extra,
        };
        let mut r = Report::build(&s.journal, ctx, s.installed, now);
        if s.http.installed || s.otk.uploads.requests + s.otk.uploads.conflicts > 0 {
            r.otk_health = Some(s.otk.snapshot());
        }
        if s.http.installed {
            let mut h = s.http.clone();
            h.tap_errors += u64_of(&http_tap, "errors").unwrap_or(0);
            r.http = Some(h);
        }
        if tap.is_object() {
            // The tap sees every line; the journal only those that passed the prefilter.
            r.capture.lines_seen = u64_of(&tap, "seen").unwrap_or(r.capture.lines_seen);
            r.capture.capture_errors += u64_of(&tap, "errors").unwrap_or(0) + u64_of(&tap, "dropped").unwrap_or(0);
        }
        if let Some(f) = tab_guard.assess(now) {
            r.findings.push(f);
        }
        r.tab_guard = tab_guard;
        // Compact here (one writer in the bundle); the download is pretty-printed in JS.
        Ok(r.to_json_string())
    })
    .unwrap_or_else(|| Err(JsError::new("buildCryptoDiagReport: called re-entrantly")))
}

/// The diagnostics report as a JSON string (schema `schema/report.schema.json`).
/// `mx`: an optional MatrixClient, read duck-typed (ids, sync state, crypto).
/// `extra`: what the app knows, e.g. `{ appVersion, sdkVersion }`; redacted.
#[wasm_bindgen(js_name = buildCryptoDiagReport)]
pub fn build_crypto_diag_report(mx: JsValue, extra: JsValue) -> Result<String, JsError> {
    build(&mx, &extra)
}

/// Build the report and save it as `<prefix>-<UTC timestamp>.json`
/// (prefix `crypto-health-report` unless `installCryptoDiagLog({ reportPrefix })`
/// set another). Returns the file name.
#[wasm_bindgen(js_name = downloadCryptoDiagReport)]
pub fn download_crypto_diag_report(mx: JsValue, extra: JsValue) -> Result<String, JsError> {
    let text = build(&mx, &extra)?;
    let prefix = state::with(|s| s.report_prefix.clone()).unwrap_or_else(|| state::DEFAULT_REPORT_PREFIX.into());
    let name = cat!(prefix, "-", file_stamp(js::now()), ".json");
    if js::download_text(&name, &text) {
        Ok(name)
    } else {
        Err(JsError::new("downloadCryptoDiagReport: this page cannot start a download (no document?)"))
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
