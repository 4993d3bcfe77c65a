//! `buildCryptoDiagReport` and `downloadCryptoDiagReport`.

use crate::{js, state, storage};
use crypto_health_core::report::{Context, Session, Storage, Versions};
use crypto_health_core::text::iso8601;
use crypto_health_core::Report;
use serde::Deserialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ClientFacts {
    user_agent: Option<String>,
    user_id: Option<String>,
    device_id: Option<String>,
    homeserver: Option<String>,
    sync_state: Option<String>,
    crypto_ready: Option<bool>,
    crypto_version: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TapStats {
    seen: u64,
    errors: u64,
    dropped: u64,
}

fn build(mx: &JsValue, extra: &JsValue) -> Result<String, JsError> {
    if !(extra.is_undefined() || extra.is_null() || extra.is_object()) {
        return Err(JsError::new("buildCryptoDiagReport: extra must be an object"));
    }
    // Read everything from JS before borrowing our state: the client's getters
    // may log, and that log line must find the state free.
    let facts: ClientFacts = js::from_js(&js::client_facts(mx)).unwrap_or_default();
    let sess = storage::session();
    let extra: Value = js::from_js(extra).unwrap_or(Value::Null);
    let tap: Option<TapStats> = js::from_js(&js::tap_stats());
    let versions = Versions {
        app: extra.get("appVersion").and_then(Value::as_str).map(str::to_owned),
        sdk: extra.get("sdkVersion").and_then(Value::as_str).map(str::to_owned),
        crypto: facts.crypto_version.or_else(|| extra.get("cryptoVersion").and_then(Value::as_str).map(str::to_owned)),
    };
    let now = js::now();
    state::with(|s| {
        let storage = s.storage.clone().unwrap_or_else(|| Storage {
            notes: vec!["requestPersistentStorage() and checkCryptoStoreConsistency() were not called".into()],
            ..Default::default()
        });
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
            storage,
            extra,
        };
        let mut r = Report::build(&s.journal, ctx, s.installed, now);
        if let Some(t) = tap {
            // The tap sees every line; the journal only those that passed the prefilter.
            r.capture.lines_seen = t.seen;
            r.capture.capture_errors += t.errors + t.dropped;
        }
        serde_json::to_string_pretty(&r).map_err(|e| JsError::new(&format!("report serialisation failed: {e}")))
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
/// (prefix `lotus-crypto-diag` unless `installCryptoDiagLog({ reportPrefix })`
/// set another). Returns the file name.
#[wasm_bindgen(js_name = downloadCryptoDiagReport)]
pub fn download_crypto_diag_report(mx: JsValue, extra: JsValue) -> Result<String, JsError> {
    let text = build(&mx, &extra)?;
    let prefix = state::with(|s| s.report_prefix.clone()).unwrap_or_else(|| state::DEFAULT_REPORT_PREFIX.into());
    let name = format!("{prefix}-{}.json", file_stamp(js::now()));
    if js::download_text(&name, &text) {
        Ok(name)
    } else {
        Err(JsError::new("downloadCryptoDiagReport: this page cannot start a download (no document?)"))
    }
}

/// `2026-11-21T20-13-37Z`: ISO without characters that file systems dislike.
fn file_stamp(ms: f64) -> String {
    let iso = iso8601(ms);
    format!("{}Z", iso[..19].replace(':', "-"))
}
