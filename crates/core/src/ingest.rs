//! Where observations enter: console lines and HTTP exchanges go to the
//! journal (evidence), the OTK health monitor (decisions) and the HTTP
//! counters. Both paths feed one detector; a conflict seen on both counts once.

use crate::prelude::*;
use crate::report::finding::{Finding, Level};
use crate::evidence::http::{endpoint_of, path_of, Endpoint, HttpStats, DELAYED_EVENT_LOCAL_TIMEOUT_MS};
use crate::evidence::journal::{Entry, Journal};
use crate::otk::upload::{parse_request, parse_response, UploadOutcome};
use crate::otk::health::{Event, Monitor, Source};
use crate::otk::breaker::{Decision, KeptResponse};
use crate::support::text::iso8601;
use crate::support::json::object;

const OTK_CONFLICT: &str = "ke1.otk_conflict";

/// One finished HTTP exchange as the fetch tap saw it.
#[derive(Clone, Debug, Default)]
pub struct Exchange<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// `None`: the fetch failed (network error or abort).
    pub status: Option<u16>,
    pub status_text: &'a str,
    pub content_type: Option<&'a str>,
    pub aborted: bool,
    pub duration_ms: u64,
    /// Read from a clone, only for endpoints whose body matters.
    pub response_body: Option<&'a str>,
    /// The fetch rejection, rendered (`TypeError: Failed to fetch`, `AbortError: …`).
    pub error: Option<&'a str>,
    /// The storm breaker answered it; the server never saw it.
    pub answered_locally: bool,
}

fn apply(j: &mut Journal, events: Vec<Event>) -> Vec<Event> {
    for e in &events {
        if let Event::Finding(f) = e {
            j.add_finding(f.clone());
        }
    }
    events
}

/// A conflict went to the monitor; if it was the second sighting of one
/// conflict, the journal's count for it is taken back.
fn conflict(j: &mut Journal, m: &mut Monitor, outcome: &UploadOutcome, source: Source, now: u64) -> Vec<Event> {
    let dup = m.uploads.duplicates;
    let events = m.observe_outcome(outcome, source, now);
    if m.uploads.duplicates > dup {
        j.uncount(OTK_CONFLICT);
    }
    events
}

/// A console line (already rendered). With `want_entry`, a copy of the entry
/// it was stored in (or folded into) comes back too.
pub fn console_line(j: &mut Journal, m: &mut Monitor, level: &str, message: &str, ts: u64, want_entry: bool) -> (Option<Entry>, Vec<Event>) {
    let (entry, is_conflict) = match j.observe(level, message, ts) {
        None => return (None, Vec::new()),
        Some(e) => (want_entry.then(|| e.clone()), e.signature == OTK_CONFLICT),
    };
    let events = match crate::otk::conflict::parse(message).filter(|_| is_conflict) {
        Some(c) => {
            let events = conflict(j, m, &UploadOutcome::Conflict(c), Source::Console, ts);
            apply(j, events)
        }
        None => Vec::new(),
    };
    (entry, events)
}

/// Upload bodies above this are parsed every time rather than kept (memory).
const MAX_MEMO_BYTES: usize = 256 * 1024;

/// An upload is about to leave: read its body, remember the identity, and
/// ask the storm breaker. The kept 400 comes back when it answers locally.
/// A body identical to the last one is not parsed again (the storm case).
pub fn before_upload(j: &mut Journal, m: &mut Monitor, body: &str, now: u64) -> (Decision, Option<KeptResponse>, Vec<Event>) {
    let (text, req) = match m.upload_memo.take() {
        Some((text, req)) if text == body => (text, req),
        _ => (body.to_owned(), parse_request(body)),
    };
    let events = m.observe_request(&req, now);
    let decision = m.breaker.decide(req.fingerprint, now);
    if text.len() <= MAX_MEMO_BYTES {
        m.upload_memo = Some((text, req));
    }
    let kept = (decision == Decision::AnswerLocally).then(|| m.breaker.kept.clone()).flatten();
    (decision, kept, apply(j, events))
}

/// A finished exchange on a watched endpoint.
pub fn exchange(j: &mut Journal, m: &mut Monitor, h: &mut HttpStats, ex: &Exchange, now: u64) -> Vec<Event> {
    let Some((endpoint, detail)) = endpoint_of(ex.method, ex.url) else { return Vec::new() };
    let stats = h.endpoint_mut(endpoint);
    if ex.answered_locally {
        stats.answered_locally += 1;
        return Vec::new();
    }
    stats.record(ex.status, ex.aborted, ex.duration_ms, detail.as_deref(), now);
    match endpoint {
        Endpoint::KeysUpload => keys_upload(j, m, ex, now),
        Endpoint::DelayedEvents => {
            delayed_events(j, h, ex, now);
            Vec::new()
        }
        Endpoint::SendToDevice => Vec::new(),
    }
}

fn keys_upload(j: &mut Journal, m: &mut Monitor, ex: &Exchange, now: u64) -> Vec<Event> {
    let outcome = parse_response(ex.status, ex.response_body, ex.error);
    if let (UploadOutcome::Conflict(_), Some(status), Some(body)) = (&outcome, ex.status, ex.response_body) {
        // Evidence in the journal, in the words the server used.
        j.observe("http", &cat!("HTTP POST ", path_of(ex.url), " [", dec(status.into()), "] ", body), now);
        if let Some(fp) = m.last_fingerprint {
            m.breaker.keep(KeptResponse {
                status,
                status_text: ex.status_text.to_owned(),
                content_type: ex.content_type.map(str::to_owned),
                body: body.to_owned(),
                fingerprint: fp,
            });
        }
    }
    let events = match &outcome {
        UploadOutcome::Conflict(_) => conflict(j, m, &outcome, Source::Http, now),
        _ => m.observe_outcome(&outcome, Source::Http, now),
    };
    apply(j, events)
}

/// KE-4 from the client side (runbook Q4): is the homeserver slower than the
/// SDK's local timeout on delayed-event calls?
fn delayed_events(j: &mut Journal, h: &mut HttpStats, ex: &Exchange, now: u64) {
    let s = &mut h.delayed_events;
    let failed = ex.status.is_none_or(|st| st >= 500);
    if ex.duration_ms > DELAYED_EVENT_LOCAL_TIMEOUT_MS {
        s.over_local_timeout += 1;
    }
    if !(failed || ex.duration_ms > DELAYED_EVENT_LOCAL_TIMEOUT_MS) {
        return;
    }
    let bad = s.over_local_timeout + s.network_errors + s.aborted + s.server_errors;
    j.add_finding(Finding {
        id: "delayed_events_slow".into(),
        ke: Some("KE-4".into()),
        level: Level::Warning,
        title: "delayed-event calls fail or exceed the SDK's 2 s local timeout".into(),
        detail: cat!(
            dec(bad),
            " of ",
            dec(s.requests),
            " delayed-event calls to the homeserver took longer than ",
            dec(DELAYED_EVENT_LOCAL_TIMEOUT_MS),
            " ms or failed (slowest ",
            dec(s.max_ms),
            " ms, ",
            dec(s.network_errors),
            " network errors, ",
            dec(s.aborted),
            " aborted, ",
            dec(s.server_errors),
            " server errors). MatrixRTC retries these and gives up after 10: \
             the delay is on the homeserver side or the network, not in the client."
        ),
        ts: now,
        at: iso8601(now),
        evidence: object([
            ("requests", s.requests.into()), ("overLocalTimeout", s.over_local_timeout.into()), ("maxMs", s.max_ms.into()),
            ("meanMs", s.mean_ms().into()), ("networkErrors", s.network_errors.into()), ("aborted", s.aborted.into()),
            ("serverErrors", s.server_errors.into()), ("lastStatus", s.last_status.into()),
            ("localTimeoutMs", DELAYED_EVENT_LOCAL_TIMEOUT_MS.into()),
        ]),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otk::health::{MonitorConfig, Phase};

    const BODY_400: &str = r#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"OLD\",\"signatures\":{}}; new key: {'key': 'NEW', 'signatures': {}}"}"#;
    const UPLOAD: &str = r#"{"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":{"key":"NEW"}}}"#;
    const CONSOLE: &str = "Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"OLD\",\"signatures\":{}}; new key: {'key': 'NEW', 'signatures': {}} (https://hs/_matrix/client/v3/keys/upload)";

    fn rejected<'a>() -> Exchange<'a> {
        Exchange {
            method: "POST",
            url: "https://hs/_matrix/client/v3/keys/upload",
            status: Some(400),
            status_text: "Bad Request",
            content_type: Some("application/json"),
            duration_ms: 40,
            response_body: Some(BODY_400),
            ..Default::default()
        }
    }

    #[test]
    fn http_and_console_feed_one_detector_and_count_once() {
        let (mut j, mut m, mut h) = (Journal::default(), Monitor::new(MonitorConfig::default()), HttpStats::default());
        let mut recovery = 0;
        for i in 0..3u64 {
            before_upload(&mut j, &mut m, UPLOAD, i * 1000);
            let ev = exchange(&mut j, &mut m, &mut h, &rejected(), i * 1000 + 40);
            recovery += ev.iter().filter(|e| matches!(e, Event::RecoveryNeeded(_))).count();
            console_line(&mut j, &mut m, "error", CONSOLE, i * 1000 + 41, false);
        }
        assert_eq!((recovery, m.phase), (1, Phase::Storm));
        assert_eq!((m.uploads.conflicts, m.uploads.duplicates), (3, 3));
        assert_eq!(j.counts()["KE-1"].by_signature.get(OTK_CONFLICT), Some(&3), "six sightings, three conflicts");
        assert_eq!(h.keys_upload.client_errors, 3);
        assert!(j.entries().any(|e| e.level == "http" && e.message.starts_with("HTTP POST /_matrix/client/v3/keys/upload [400]")));
    }

    #[test]
    fn breaker_answers_locally_once_armed_and_enabled() {
        let (mut j, mut m, mut h) = (Journal::default(), Monitor::new(MonitorConfig::default()), HttpStats::default());
        m.breaker.enabled = true;
        for i in 0..3u64 {
            let (d, _, _) = before_upload(&mut j, &mut m, UPLOAD, i);
            assert_eq!(d, Decision::Forward);
            exchange(&mut j, &mut m, &mut h, &rejected(), i);
        }
        let (d, kept, _) = before_upload(&mut j, &mut m, UPLOAD, 10);
        assert_eq!(d, Decision::AnswerLocally);
        let kept = kept.unwrap();
        assert_eq!((kept.status, kept.body.as_str(), kept.content_type.as_deref()), (400, BODY_400, Some("application/json")));
        exchange(&mut j, &mut m, &mut h, &Exchange { answered_locally: true, ..rejected() }, 10);
        assert_eq!((h.keys_upload.answered_locally, h.keys_upload.requests, m.uploads.conflicts), (1, 3, 3));
        // A different body goes through.
        let (d, _, _) = before_upload(&mut j, &mut m, r#"{"one_time_keys":{}}"#, 11);
        assert_eq!(d, Decision::Forward);
    }

    #[test]
    fn a_repeated_body_is_compared_not_reparsed_and_a_changed_one_is_read() {
        let (mut j, mut m) = (Journal::default(), Monitor::new(MonitorConfig::default()));
        let with_ed = |ed: &str| format!(r#"{{"device_keys":{{"user_id":"@a:hs","device_id":"DEV","keys":{{"ed25519:DEV":"{ed}"}}}},"one_time_keys":{{}}}}"#);
        let first = with_ed("ED1");
        before_upload(&mut j, &mut m, &first, 1);
        let fp = m.last_fingerprint;
        before_upload(&mut j, &mut m, &first, 2);
        assert_eq!((m.uploads.requests, m.last_fingerprint), (2, fp));
        assert_eq!(m.upload_memo.as_ref().map(|(b, _)| b.as_str()), Some(first.as_str()));
        // A new identity in a new body is read: the early warning still fires.
        let (_, _, ev) = before_upload(&mut j, &mut m, &with_ed("ED2"), 3);
        assert!(ev.iter().any(|e| matches!(e, Event::Finding(f) if f.id == "device_identity_replaced")), "{ev:?}");
        assert_ne!(m.last_fingerprint, fp);
    }

    #[test]
    fn slow_delayed_events_raise_a_ke4_finding() {
        let (mut j, mut m, mut h) = (Journal::default(), Monitor::default(), HttpStats::default());
        let url = "https://hs/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_1/restart";
        exchange(&mut j, &mut m, &mut h, &Exchange { method: "POST", url, status: Some(200), duration_ms: 150, ..Default::default() }, 1);
        assert!(j.findings.is_empty());
        exchange(&mut j, &mut m, &mut h, &Exchange { method: "POST", url, status: Some(200), duration_ms: 2500, ..Default::default() }, 2);
        exchange(&mut j, &mut m, &mut h, &Exchange { method: "POST", url, aborted: true, duration_ms: 2000, error: Some("AbortError"), ..Default::default() }, 3);
        let f = &j.findings[0];
        assert_eq!((f.id.as_str(), f.ke.as_deref()), ("delayed_events_slow", Some("KE-4")));
        assert_eq!(f.evidence["overLocalTimeout"], 1);
        assert_eq!(f.evidence["aborted"], 1);
        assert_eq!(h.delayed_events.by_detail.get("restart"), Some(&3));
    }

    #[test]
    fn unwatched_urls_are_ignored() {
        let (mut j, mut m, mut h) = (Journal::default(), Monitor::default(), HttpStats::default());
        let ex = Exchange { method: "GET", url: "https://hs/_matrix/client/v3/sync", status: Some(200), ..Default::default() };
        assert!(exchange(&mut j, &mut m, &mut h, &ex, 1).is_empty());
        assert_eq!(h, HttpStats::default());
    }
}
