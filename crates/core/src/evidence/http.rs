//! Which HTTP calls we watch and what we count about them. The fetch tap only
//! hands us requests whose URL passed its cheap test; [`endpoint_of`] decides.

use crate::evidence::signature::Class;
use crate::report::finding::{Finding, Level};
use crate::support::map::SortedMap;
use crate::support::obj;
use crate::support::text::iso8601;

/// The SDK's local timeout for delayed-event calls (matrix-org/matrix-js-sdk src/matrixrtc/MembershipManager.ts, KE-4).
pub const DELAYED_EVENT_LOCAL_TIMEOUT_MS: u64 = 2000;

/// Where the client-server API lives in a URL: every watched endpoint is under it.
const CLIENT_API: &str = "/_matrix/client/";
/// The watched endpoints, as the path after `/_matrix/client/<version>/` names them.
const KEYS_UPLOAD: &str = "keys/upload";
const SEND_TO_DEVICE: &str = "sendToDevice/";
const DELAYED_EVENTS: &str = "delayed_events";
/// MSC4140: scheduling a delayed event is a query parameter on a send.
const DELAY_QUERY: &str = "org.matrix.msc4140.delay=";
/// `/sync` (v3 GET) and simplified sliding sync (MSC4186, `POST …/simplified_msc3575/sync`).
const SYNC: &str = "sync";

/// The fetch tap's cheap URL tests (js/http.js), as JavaScript regular
/// expression sources built from the endpoint table above, so the page and
/// [`endpoint_of`] cannot disagree on what is watched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlTests {
    /// Any watched endpoint: a superset of what [`endpoint_of`] accepts.
    pub watch: String,
    /// `keys/upload` under any API version (its failed answers and 2xx counts are read).
    pub upload: String,
    /// `/sync` under any API version (its answer is summarised, bounded).
    pub sync: String,
}

/// A literal for a JS regular expression (the table's texts: letters, digits, `/._=-`).
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_' || c == '=' || c == '-') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// See [`UrlTests`].
pub fn url_tests() -> UrlTests {
    let api = regex_literal(CLIENT_API);
    let watch = format!(
        "{api}[^?#]*(?:\\/{}|\\/{}|{}|\\/{}(?:[?#]|$))|{}",
        regex_literal(KEYS_UPLOAD),
        regex_literal(SEND_TO_DEVICE),
        regex_literal(DELAYED_EVENTS),
        regex_literal(SYNC),
        regex_literal(DELAY_QUERY)
    );
    let upload = format!("{api}[^/?#]+\\/{}(?:[/?#]|$)", regex_literal(KEYS_UPLOAD));
    let sync = format!("{api}[^?#]*\\/{}(?:[?#]|$)", regex_literal(SYNC));
    UrlTests { watch, upload, sync }
}

/// A watched HTTP endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /_matrix/client/{v3,r0}/keys/upload`: KE-1.
    KeysUpload,
    /// MSC4140 delayed events (restart/send/cancel, or scheduling one): KE-4.
    DelayedEvents,
    /// `PUT /sendToDevice/{type}/{txn}`: call key delivery context for KE-2.
    SendToDevice,
    /// `GET /sync` (v3) or `POST …/org.matrix.simplified_msc3575/sync` (MSC4186):
    /// one-time-key counts and to-device events, read from the tap's summary.
    Sync,
}

/// Strip origin and query: `/_matrix/client/v3/keys/upload`.
pub fn path_of(url: &str) -> &str {
    let path = match url.split_once("://").map(|(_, rest)| rest) {
        Some(no_scheme) => no_scheme.find('/').and_then(|i| no_scheme.get(i..)).unwrap_or("/"),
        None => url,
    };
    path.split(['?', '#']).next().unwrap_or(path)
}

fn after_client_version(path: &str) -> Option<&str> {
    let rest = path.split_once(CLIENT_API).map(|(_, rest)| rest)?;
    let (_version, tail) = rest.split_once('/')?;
    Some(tail)
}

/// Minimal percent-decoding for event types in paths (`m.room.encrypted`, `io.element.call.encryption_keys`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The endpoint a request is for, with a detail (the to-device event type,
/// the delayed-event action). `None` for everything we do not watch.
pub fn endpoint_of(method: &str, url: &str) -> Option<(Endpoint, Option<String>)> {
    let path = path_of(url);
    let tail = after_client_version(path)?;
    let m = method.to_ascii_uppercase();
    if m == "POST" && tail.strip_prefix(KEYS_UPLOAD).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')) {
        return Some((Endpoint::KeysUpload, None));
    }
    if tail == SYNC || (m == "POST" && tail.strip_suffix(SYNC).is_some_and(|t| t.ends_with('/'))) {
        return Some((Endpoint::Sync, None));
    }
    if let Some(rest) = tail.strip_prefix(SEND_TO_DEVICE) {
        let ty = rest.split('/').next().filter(|t| !t.is_empty())?;
        return Some((Endpoint::SendToDevice, Some(percent_decode(ty))));
    }
    if let Some(from) = tail.find(DELAYED_EVENTS).and_then(|i| tail.get(i..)) {
        let action = from.split('/').nth(2).unwrap_or(if m == "GET" { "list" } else { "update" });
        return Some((Endpoint::DelayedEvents, Some(action.to_owned())));
    }
    if url.contains(DELAY_QUERY) {
        return Some((Endpoint::DelayedEvents, Some("schedule".to_owned())));
    }
    None
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointStats {
    pub requests: u64,
    pub ok: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub network_errors: u64,
    pub aborted: u64,
    /// Answered by the storm breaker without reaching the server.
    pub answered_locally: u64,
    pub by_status: SortedMap<u64>,
    pub total_ms: u64,
    pub max_ms: u64,
    pub last_ms: Option<u64>,
    pub last_status: Option<u16>,
    pub last_at: Option<u64>,
    /// Calls slower than the SDK's local timeout (delayed events only).
    pub over_local_timeout: u64,
    /// Per to-device event type or delayed-event action.
    pub by_detail: SortedMap<u64>,
}

impl EndpointStats {
    /// `status` is `None` for a network error or abort (`aborted`).
    pub fn record(&mut self, status: Option<u16>, aborted: bool, duration_ms: u64, detail: Option<&str>, now: u64) {
        self.requests += 1;
        match status {
            Some(s) => {
                *self.by_status.or_default(&s.to_string()) += 1;
                match s {
                    200..=299 => self.ok += 1,
                    400..=499 => self.client_errors += 1,
                    500..=599 => self.server_errors += 1,
                    _ => {}
                }
            }
            None if aborted => self.aborted += 1,
            None => self.network_errors += 1,
        }
        if let Some(d) = detail {
            *self.by_detail.or_default(d) += 1;
        }
        self.total_ms += duration_ms;
        self.max_ms = self.max_ms.max(duration_ms);
        self.last_ms = Some(duration_ms);
        self.last_status = status;
        self.last_at = Some(now);
    }

    pub fn mean_ms(&self) -> Option<u64> {
        (self.requests > 0).then(|| self.total_ms / self.requests)
    }

    /// A delayed-event call (KE-4) that took `duration_ms` (`failed`: a network
    /// error or a 5xx), after [`EndpointStats::record`]: counts it against the
    /// SDK's local timeout, and says, with the figures, when the homeserver is
    /// slower than that timeout or failing (the `delayed_events_slow` finding).
    pub fn delayed_event_seen(&mut self, duration_ms: u64, failed: bool, now: u64) -> Option<Finding> {
        if duration_ms > DELAYED_EVENT_LOCAL_TIMEOUT_MS {
            self.over_local_timeout += 1;
        }
        if !(failed || duration_ms > DELAYED_EVENT_LOCAL_TIMEOUT_MS) {
            return None;
        }
        let s = &*self;
        let bad = s.over_local_timeout + s.network_errors + s.aborted + s.server_errors;
        Some(Finding {
            id: "delayed_events_slow".into(),
            ke: Some(Class::Ke4),
            level: Level::Warning,
            title: "delayed-event calls fail or exceed the SDK's 2 s local timeout".into(),
            detail: format!(
                "{bad} of {} delayed-event calls to the homeserver took longer than {DELAYED_EVENT_LOCAL_TIMEOUT_MS} ms or failed \
                 (slowest {} ms, {} network errors, {} aborted, {} server errors). MatrixRTC retries these and gives up after 10: \
                 the delay is on the homeserver side or the network, not in the client.",
                s.requests, s.max_ms, s.network_errors, s.aborted, s.server_errors
            ),
            ts: now,
            at: iso8601(now),
            evidence: obj!({
                "requests": s.requests, "overLocalTimeout": s.over_local_timeout, "maxMs": s.max_ms,
                "meanMs": s.mean_ms(), "networkErrors": s.network_errors, "aborted": s.aborted,
                "serverErrors": s.server_errors, "lastStatus": s.last_status,
                "localTimeoutMs": DELAYED_EVENT_LOCAL_TIMEOUT_MS,
            }),
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpStats {
    pub installed: bool,
    pub breaker_enabled: bool,
    pub keys_upload: EndpointStats,
    pub delayed_events: EndpointStats,
    pub send_to_device: EndpointStats,
    /// `/sync` answers (absent in reports written before the tap read them).
    #[serde(default)]
    pub sync: EndpointStats,
    /// `/sync` answers left unread: over 512 KiB (declared or found while read).
    #[serde(default)]
    pub sync_bodies_not_read: u64,
    /// Response bodies we could not read (non-text, stream error).
    pub body_read_errors: u64,
    /// Failed answers whose body was left unread: declared or found over 256 KiB, or of
    /// unknown length once such a body overran that cap.
    #[serde(default)]
    pub bodies_not_read: u64,
    /// Errors inside the tap itself; the app's request was unaffected.
    pub tap_errors: u64,
}

impl HttpStats {
    pub fn endpoint_mut(&mut self, e: Endpoint) -> &mut EndpointStats {
        match e {
            Endpoint::KeysUpload => &mut self.keys_upload,
            Endpoint::DelayedEvents => &mut self.delayed_events,
            Endpoint::SendToDevice => &mut self.send_to_device,
            Endpoint::Sync => &mut self.sync,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_tests_are_built_from_the_endpoint_table() {
        // The sources the fetch tap used to spell by hand: same expressions, now generated.
        let t = url_tests();
        assert_eq!(
            t.watch,
            r"\/_matrix\/client\/[^?#]*(?:\/keys\/upload|\/sendToDevice\/|delayed_events|\/sync(?:[?#]|$))|org\.matrix\.msc4140\.delay="
        );
        assert_eq!(t.upload, r"\/_matrix\/client\/[^/?#]+\/keys\/upload(?:[/?#]|$)");
        assert_eq!(t.sync, r"\/_matrix\/client\/[^?#]*\/sync(?:[?#]|$)");
        // Every literal of the table appears escaped in the watch test.
        for text in [CLIENT_API, KEYS_UPLOAD, SEND_TO_DEVICE, DELAYED_EVENTS, SYNC, DELAY_QUERY] {
            assert!(t.watch.contains(&regex_literal(text)), "{text}");
        }
    }

    #[test]
    fn endpoints() {
        let e = |m, u| endpoint_of(m, u);
        assert_eq!(e("POST", "https://hs.example/_matrix/client/v3/keys/upload"), Some((Endpoint::KeysUpload, None)));
        assert_eq!(e("post", "/_matrix/client/r0/keys/upload/DEV?access_token=x"), Some((Endpoint::KeysUpload, None)));
        assert_eq!(e("GET", "https://hs/_matrix/client/v3/keys/upload"), None, "not an upload");
        assert_eq!(e("POST", "https://hs/_matrix/client/v3/keys/query"), None);
        assert_eq!(e("POST", "https://hs/_matrix/media/v3/upload"), None);
        assert_eq!(
            e("PUT", "https://hs/_matrix/client/v3/sendToDevice/io.element.call.encryption_keys/txn1"),
            Some((Endpoint::SendToDevice, Some("io.element.call.encryption_keys".into())))
        );
        assert_eq!(
            e("PUT", "https://hs/_matrix/client/v3/sendToDevice/m.room%2Eencrypted/t"),
            Some((Endpoint::SendToDevice, Some("m.room.encrypted".into())))
        );
        assert_eq!(
            e("POST", "https://hs/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abc/restart"),
            Some((Endpoint::DelayedEvents, Some("restart".into())))
        );
        assert_eq!(
            e("POST", "https://hs/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abc"),
            Some((Endpoint::DelayedEvents, Some("update".into())))
        );
        assert_eq!(
            e(
                "PUT",
                "https://hs/_matrix/client/v3/rooms/!r:hs/state/org.matrix.msc3401.call.member/_@a:hs_DEV?org.matrix.msc4140.delay=8000"
            ),
            Some((Endpoint::DelayedEvents, Some("schedule".into())))
        );
        assert_eq!(e("GET", "https://hs/_matrix/client/v3/sync?filter=1&timeout=30000&since=s1"), Some((Endpoint::Sync, None)));
        assert_eq!(e("GET", "https://hs/_matrix/client/r0/sync"), Some((Endpoint::Sync, None)));
        assert_eq!(e("POST", "https://hs/_matrix/client/unstable/org.matrix.simplified_msc3575/sync?pos=3"), Some((Endpoint::Sync, None)));
        assert_eq!(e("GET", "https://hs/_matrix/client/v3/rooms/!r/sync"), None);
        assert_eq!(e("GET", "https://hs/_matrix/client/v3/syncx"), None);
        assert_eq!(e("POST", "not a url"), None);
        assert_eq!(e("POST", ""), None);
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
    }

    #[test]
    fn stats() {
        let mut s = EndpointStats::default();
        s.record(Some(200), false, 10, None, 1);
        s.record(Some(400), false, 30, None, 2);
        s.record(None, true, 5, None, 3);
        s.record(None, false, 0, None, 4);
        s.record(Some(502), false, 2, None, 5);
        assert_eq!((s.requests, s.ok, s.client_errors, s.server_errors, s.aborted, s.network_errors), (5, 1, 1, 1, 1, 1));
        assert_eq!((s.max_ms, s.mean_ms(), s.last_status), (30, Some(9), Some(502)));
        assert_eq!(s.by_status.get("400"), Some(&1));
    }
}
