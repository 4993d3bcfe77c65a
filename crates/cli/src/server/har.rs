//! A browser's HAR capture (DevTools → Network → Save all as HAR; Playwright `recordHar`), read
//! for what triage asks of it: the failing `keys/upload` request (its `one_time_keys` map)
//! and Synapse's 400 answer, the delayed-event calls (MSC4140/MSC4157) with their timings, and the
//! `sendToDevice` calls.
//!
//! A HAR carries the session's access token in request headers, cookies and sometimes the query
//! string. None of those fields is ever read: only method, URL path (the query cut off), request
//! body of keys/upload (public keys and signatures only), response status and body of a failed
//! keys/upload, and timings. sendToDevice bodies (encrypted payloads) are counted, not kept.

use super::error::HarError;
use crypto_health_core::otk::conflict;
use serde_json::Value;

pub(crate) use crypto_health_core::triage::facts::har::{Call, Har, Upload};

/// `2026-11-21T20:49:08.548Z` or `…+01:00` → Unix ms.
fn parse_iso(s: &str) -> Option<u64> {
    if s.len() < 19 {
        return None;
    }
    let base = super::log::parse_ts(s.get(..23).unwrap_or(&s[..19]).replace('T', " ").as_bytes())?;
    let tail = s.get(19..)?;
    let tail = tail.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset_min: i64 = match tail.as_bytes().first() {
        Some(b'+' | b'-') if tail.len() >= 6 => {
            let h: i64 = tail.get(1..3)?.parse().ok()?;
            let m: i64 = tail.get(4..6)?.parse().ok()?;
            let v = h * 60 + m;
            if tail.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => 0,
    };
    Some((base as i64 - offset_min * 60_000) as u64)
}

fn path_of(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or("");
    match no_query.find("://") {
        Some(i) => no_query[i + 3..].find('/').map(|j| no_query[i + 3 + j..].to_string()).unwrap_or_else(|| "/".into()),
        None => no_query.to_string(),
    }
}

fn is_delayed(path: &str, url: &str) -> bool {
    path.contains("/delayed_events") || path.contains("msc4140") || path.contains("msc4157") || path.contains("update_delayed_event")
        // A delayed send: `PUT …/send/…?org.matrix.msc4140.delay=…` (only the parameter's name is looked at).
        || url.split_once('?').is_some_and(|(_, q)| q.split('&').any(|kv| kv.starts_with("org.matrix.msc4140.delay=")))
}

/// Parse a HAR file. Bad input is a clear error.
pub(crate) fn read(path: &str) -> Result<Har, HarError> {
    let f = std::fs::File::open(path).map_err(|source| HarError::Io { path: path.into(), source })?;
    let v: Value = serde_json::from_reader(std::io::BufReader::new(f)).map_err(|source| HarError::NotJson { path: path.into(), source })?;
    from_value(path, &v)
}

pub(crate) fn from_value(path: &str, v: &Value) -> Result<Har, HarError> {
    let entries =
        v.get("log").and_then(|l| l.get("entries")).and_then(Value::as_array).ok_or_else(|| HarError::NotHar { path: path.into() })?;
    let mut h = Har { file: path.to_string(), entries: entries.len(), ..Default::default() };
    for (i, e) in entries.iter().enumerate() {
        let req = e.get("request");
        let url = req.and_then(|r| r.get("url")).and_then(Value::as_str).unwrap_or("");
        let method = req.and_then(|r| r.get("method")).and_then(Value::as_str).unwrap_or("").to_string();
        let path = path_of(url);
        let upload = method == "POST" && path.ends_with("/keys/upload");
        let delayed = is_delayed(&path, url);
        let to_device = path.contains("/sendToDevice/");
        if !(upload || delayed || to_device) {
            continue;
        }
        let resp = e.get("response");
        let call = Call {
            index: i,
            ts: e.get("startedDateTime").and_then(Value::as_str).and_then(parse_iso),
            method,
            status: resp.and_then(|r| r.get("status")).and_then(Value::as_u64).unwrap_or(0).min(999) as u16,
            time_ms: e.get("time").and_then(Value::as_f64).unwrap_or(0.0),
            wait_ms: e.get("timings").and_then(|t| t.get("wait")).and_then(Value::as_f64).filter(|w| *w >= 0.0),
            error: resp.and_then(|r| r.get("_error")).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from),
            path,
        };
        let body = || {
            req.and_then(|r| r.get("postData"))
                .and_then(|p| p.get("text"))
                .and_then(Value::as_str)
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
        };
        if upload {
            let body = body();
            if let Some(dk) = body.as_ref().and_then(|b| b.get("device_keys")) {
                h.user = h.user.take().or_else(|| dk.get("user_id").and_then(Value::as_str).map(String::from));
                h.device = h.device.take().or_else(|| dk.get("device_id").and_then(Value::as_str).map(String::from));
            }
            let otks = body.as_ref().and_then(|b| b.get("one_time_keys")).and_then(Value::as_object);
            let otk_ids: Vec<String> = otks.map(|m| m.keys().cloned().collect()).unwrap_or_default();
            if h.user.is_none() {
                // The keys' signatures name the user and device.
                if let Some(sig) = otks.and_then(|m| m.values().find_map(|k| k.get("signatures")?.as_object())) {
                    if let Some((u, d)) = sig.iter().next() {
                        h.user = Some(u.clone());
                        h.device = d.as_object().and_then(|m| m.keys().find_map(|k| k.strip_prefix("ed25519:").map(String::from)));
                    }
                }
            }
            let text = resp.and_then(|r| r.get("content")).and_then(|c| c.get("text")).and_then(Value::as_str);
            let error_text = text
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .and_then(|v| v.get("error").and_then(Value::as_str).map(String::from));
            let conflict = (call.status == 400).then(|| error_text.as_deref().and_then(conflict::parse)).flatten();
            let request_key = conflict.as_ref().and_then(|c| otks?.get(&format!("{}:{}", c.algorithm, c.key_id)).cloned());
            h.uploads.push(Upload { call, otk_ids, conflict, request_key, error_text });
        } else if delayed {
            h.delayed.push(call);
        } else {
            let event_type = call.path.split("/sendToDevice/").nth(1).and_then(|t| t.split('/').next()).unwrap_or("?").to_string();
            let targets = body()
                .and_then(|b| {
                    b.get("messages").and_then(Value::as_object).map(|m| m.values().filter_map(Value::as_object).map(|d| d.len()).sum())
                })
                .unwrap_or(0);
            h.to_device.push((call, event_type, targets));
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(super) fn sample() -> Value {
        let err = r#"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"OLD","signatures":{"@a:hs":{"ed25519:DEV":"s1"}}}; new key: {'key': 'NEW', 'signatures': {'@a:hs': {'ed25519:DEV': 's2'}}}"#;
        json!({"log": {"version": "1.2", "entries": [
            {"startedDateTime": "2026-11-21T20:49:08.548Z", "time": 12.5,
             "request": {"method": "POST", "url": "http://127.0.0.1:8008/_matrix/client/v3/keys/upload?access_token=syt_query_secret",
                         "headers": [{"name": "Authorization", "value": "Bearer syt_header_secret"}],
                         "cookies": [{"name": "session", "value": "cookie_secret"}],
                         "postData": {"mimeType": "application/json", "text": serde_json::to_string(&json!({
                            "one_time_keys": {"signed_curve25519:AAAAAAAAAA0": {"key": "NEW", "signatures": {"@a:hs": {"ed25519:DEV": "s2"}}}}})).unwrap()}},
             "response": {"status": 400, "headers": [{"name": "set-cookie", "value": "x=cookie_secret2"}],
                          "content": {"mimeType": "application/json", "text": serde_json::to_string(&json!({"errcode": "M_UNKNOWN", "error": err})).unwrap()}},
             "timings": {"wait": 10.0}},
            {"startedDateTime": "2026-11-21T21:49:09.000+01:00", "time": 2003.0,
             "request": {"method": "POST", "url": "http://hs/_matrix/client/unstable/org.matrix.msc4140/delayed_events/d1", "headers": []},
             "response": {"status": 0, "_error": "net::ERR_ABORTED", "content": {}}, "timings": {"wait": -1}},
            {"startedDateTime": "2026-11-21T20:49:10.000Z", "time": 5.0,
             "request": {"method": "PUT", "url": "http://hs/_matrix/client/v3/sendToDevice/io.element.call.encryption_keys/t1",
                         "postData": {"text": "{\"messages\":{\"@b:hs\":{\"D1\":{},\"D2\":{}}}}"}},
             "response": {"status": 200, "content": {"text": "{}"}}, "timings": {"wait": 4.0}},
            {"startedDateTime": "2026-11-21T20:49:11.000Z", "time": 5.0,
             "request": {"method": "GET", "url": "http://hs/_matrix/client/v3/sync?access_token=x"}, "response": {"status": 200}}
        ]}})
    }

    #[test]
    fn reads_the_triage_calls_and_nothing_secret() {
        let h = from_value("capture.har", &sample()).unwrap();
        assert_eq!(h.entries, 4);
        assert_eq!((h.user.as_deref(), h.device.as_deref()), (Some("@a:hs"), Some("DEV")));
        let u = &h.uploads[0];
        assert_eq!(u.call.status, 400);
        assert_eq!(u.call.path, "/_matrix/client/v3/keys/upload");
        assert_eq!(u.otk_ids, vec!["signed_curve25519:AAAAAAAAAA0".to_string()]);
        let c = u.conflict.as_ref().unwrap();
        assert_eq!((c.key_id.as_str(), c.diverged), ("AAAAAAAAAA0", Some(true)));
        assert_eq!(u.request_key.as_ref().unwrap()["key"], "NEW");
        assert_eq!(u.call.ts, Some(1_795_294_148_548));
        let d = &h.delayed[0];
        assert_eq!((d.status, d.error.as_deref(), d.wait_ms, d.ts), (0, Some("net::ERR_ABORTED"), None, Some(1_795_294_149_000)));
        assert_eq!((h.to_device[0].1.as_str(), h.to_device[0].2), ("io.element.call.encryption_keys", 2));
        let all = format!("{h:?}");
        for s in ["syt_query_secret", "syt_header_secret", "cookie_secret"] {
            assert!(!all.contains(s), "{s} kept");
        }
    }

    #[test]
    fn bad_files_are_clear_errors() {
        assert!(from_value("x.har", &json!({"hello": 1})).err().unwrap().to_string().contains("not a HAR file"));
        let p = std::env::temp_dir().join(format!("crypto-health-har-{}.har", std::process::id()));
        std::fs::write(&p, "{\"log\": {\"entries\": [").unwrap();
        assert!(read(p.to_str().unwrap()).err().unwrap().to_string().contains("not JSON"));
        let _ = std::fs::remove_file(&p);
    }
}
