//! Match a message against the signature table and extract its fields.

use crate::evidence::signature::{Extract, Signature, SIGNATURES};
use crate::support::obj;
use crate::support::text::head;
use serde_json::{Map, Value};

/// Lines longer than this are classified on their head only: every signature
/// text sits near the start, and a hostile 100 MB string must stay cheap.
pub const MAX_SCAN_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct Classified {
    pub signature: &'static Signature,
    pub fields: Map<String, Value>,
}

impl Classified {
    /// `{ ke, signature, severity, fields }`: the shape the CLI prints and `classifyMessage` returns.
    pub fn to_json(&self) -> Value {
        obj!({ "ke": self.signature.class.ke(), "signature": self.signature.id, "severity": self.signature.severity.as_str(), "fields": Value::Object(self.fields.clone()) })
    }
}

/// Does `s` contain any prefilter needle? Allocation-free.
pub fn prefilter(s: &str) -> bool {
    SIGNATURES.iter().any(|sig| s.contains(sig.all[0]))
}

fn row_matches(sig: &Signature, s: &str) -> bool {
    sig.all.iter().all(|n| s.contains(n))
        && (sig.any.is_empty() || sig.any.iter().any(|n| s.contains(n)))
        && !sig.none.iter().any(|n| s.contains(n))
}

/// Classify one message (multi-line messages are one message). `None` when no
/// signature matches: the common case, which allocates nothing.
pub fn classify(message: &str) -> Option<Classified> {
    let s = head(message, MAX_SCAN_BYTES);
    let signature = SIGNATURES.iter().find(|sig| row_matches(sig, s))?;
    let mut fields = Map::new();
    extract(signature.extract, s, &mut fields);
    Some(Classified { signature, fields })
}

fn extract(kind: Extract, s: &str, f: &mut Map<String, Value>) {
    match kind {
        Extract::OtkConflict => {
            if let Some(c) = crate::otk::conflict::parse(s) {
                c.to_fields(f);
            }
            if s.contains("[400]") {
                f.insert("status".into(), 400.into());
            }
        }
        Extract::HttpExchange => http_exchange(s, f),
        Extract::MediaKey => media_key(s, f),
        Extract::ToDevice => {
            for key in ["sender", "sender_key", "event_type", "sender_device", "user_id", "device_id", "message_id"] {
                if let Some(v) = tracing_value(s, key) {
                    f.insert(key.into(), v.into());
                }
            }
        }
        Extract::Decryption => decryption(s, f),
        Extract::Retry => {
            if let Some((n, max)) = retry_fraction(s) {
                f.insert("attempt".into(), n.into());
                f.insert("max".into(), max.into());
            }
            if let Some(secs) = s.split_once("retrying in ").map(|(_, rest)| rest).and_then(leading_u64) {
                f.insert("retry_delay_s".into(), secs.into());
            }
            f.insert("immediate".into(), s.contains("immediate retry").into());
        }
        Extract::MaxRetries => {
            if let Some(n) = s.split_once("Reached maximum (").map(|(_, rest)| rest).and_then(leading_u64) {
                f.insert("max".into(), n.into());
            }
            if let Some(cause) = s.split_once("retries cause by: ").map(|(_, rest)| rest) {
                f.insert("cause".into(), cause.lines().next().unwrap_or("").trim().into());
            }
        }
        Extract::None => {}
    }
}

fn leading_u64(s: &str) -> Option<u64> {
    let end = s.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
    s.get(..end)?.parse().ok()
}

/// A token up to whitespace or one of the delimiters.
fn token<'a>(s: &'a str, stops: &[u8]) -> &'a str {
    s.split(|c: char| c.is_ascii_whitespace() || u8::try_from(c).is_ok_and(|b| stops.contains(&b))).next().unwrap_or(s)
}

/// `FetchHttpApi: <-- POST https://hs/_matrix/client/v3/keys/upload [65ms 400]`
fn http_exchange(s: &str, f: &mut Map<String, Value>) {
    if let Some(rest) = s.split_once("<-- ").map(|(_, rest)| rest) {
        let method = token(rest, &[]);
        f.insert("method".into(), method.into());
        let url = token(rest.get(method.len()..).unwrap_or_default().trim_start(), &[]);
        if let Some(endpoint) = url.find("/_matrix/").and_then(|i| url.get(i..)) {
            f.insert("endpoint".into(), token(endpoint, b"?").into());
        }
    }
    if let Some((_, bracket)) = s.rsplit_once('[') {
        let inner = token(bracket, b"]");
        if let Some(ms) = inner.strip_suffix("ms").and_then(|m| m.parse::<u64>().ok()) {
            f.insert("duration_ms".into(), ms.into());
        }
        if let Some(status) = bracket.split_once(" ").map(|(_, rest)| rest).and_then(leading_u64) {
            f.insert("status".into(), status.into());
        }
    }
}

/// `missing key at index 3 for participant @bob:hs:DEVICE`,
/// `key set not found for @bob:hs:DEVICE at index 0`.
fn media_key(s: &str, f: &mut Map<String, Value>) {
    if let Some(i) = s.split_once("at index ").map(|(_, rest)| rest).and_then(leading_u64) {
        f.insert("index".into(), i.into());
    }
    let who =
        s.split_once("for participant ").map(|(_, rest)| rest).or_else(|| s.split_once("key set not found for ").map(|(_, rest)| rest));
    if let Some(p) = who.map(|w| token(w, b",;)")) {
        if !p.is_empty() {
            f.insert("participant".into(), p.into());
            // `@user:server:DEVICE`; a bare base64 hash identity has no '@'.
            if let (true, Some((user, device))) = (p.starts_with('@'), p.rsplit_once(':')) {
                if user.contains(':') {
                    f.insert("user_id".into(), user.into());
                    f.insert("device_id".into(), device.into());
                }
            }
        }
    }
}

/// `Error decrypting event (id=$ev type=m.room.encrypted sender=@a:hs room=!r:hs ts=…): DecryptionError[msg: missing field `algorithm` at line 1 column 138, …]`
fn decryption(s: &str, f: &mut Map<String, Value>) {
    if let Some(id) = s.split_once("id=").map(|(_, rest)| rest).map(|v| token(v, b",)")) {
        f.insert("event_id".into(), id.trim_end_matches(':').into());
    }
    if let Some(room) = s.split_once("room=").map(|(_, rest)| rest).map(|v| token(v, b",)")) {
        f.insert("room_id".into(), room.into());
    }
    if let Some(sender) = s.split_once("sender=").map(|(_, rest)| rest).map(|v| token(v, b",)")) {
        f.insert("sender".into(), sender.into());
    }
    f.insert("retrying".into(), s.contains("but retrying").into());
    if let Some(line) = s.split_once(" at line ").map(|(_, rest)| rest).and_then(leading_u64) {
        f.insert("line".into(), line.into());
    }
    if let Some(col) = s.split_once(" column ").map(|(_, rest)| rest).and_then(leading_u64) {
        f.insert("column".into(), col.into());
    }
    if let Some(field) = s.split_once("missing field ").map(|(_, rest)| rest) {
        let name = field.trim_start_matches(['`', '\'', '"']);
        let name = token(name, b"`'\"");
        f.insert("missing_field".into(), name.into());
    }
}

/// Value of `key="value"` or `key=value` in rust tracing output.
fn tracing_value<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = s.get(from..).and_then(|rest| rest.find(key)) {
        let at = from + i;
        from = at + key.len();
        let boundary = at == 0 || !s.as_bytes()[at - 1].is_ascii_alphanumeric() && s.as_bytes()[at - 1] != b'_';
        let Some(v) = s.get(from..).and_then(|rest| rest.strip_prefix('=')) else { continue };
        if !boundary {
            continue;
        }
        return Some(match v.strip_prefix('"') {
            Some(q) => q.split('"').next().unwrap_or(q),
            None => token(v, b","),
        });
    }
    None
}

/// `(3/10)` or `((3/10))`: the first parenthesised n/max.
fn retry_fraction(s: &str) -> Option<(u64, u64)> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(p) = s.get(i..).and_then(|rest| rest.find('(')) {
        let start = i + p + 1;
        i = start;
        let n_end = start + b[start..].iter().position(|c| !c.is_ascii_digit()).unwrap_or(b.len() - start);
        if n_end == start || b.get(n_end) != Some(&b'/') {
            continue;
        }
        let m_start = n_end + 1;
        let m_end = m_start + b[m_start..].iter().position(|c| !c.is_ascii_digit()).unwrap_or(b.len() - m_start);
        if m_end > m_start && b.get(m_end) == Some(&b')') {
            return Some((s.get(start..n_end)?.parse().ok()?, s.get(m_start..m_end)?.parse().ok()?));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_fraction_forms() {
        assert_eq!(retry_fraction("immediate retry ((3/10))"), Some((3, 10)));
        assert_eq!(retry_fraction("retrying in 3s (2/10)"), Some((2, 10)));
        assert_eq!(retry_fraction("(a/b) (x) (1/) (/2)"), None);
    }

    #[test]
    fn tracing_values() {
        let s = r#"WARN matrix_sdk_crypto: Received an unexpected encrypted to-device event sender="@a:hs" event_type="io.element.call.encryption_keys" my_sender=x"#;
        assert_eq!(tracing_value(s, "sender"), Some("@a:hs"));
        assert_eq!(tracing_value(s, "event_type"), Some("io.element.call.encryption_keys"));
    }
}
