//! Synapse's homeserver.log, read for the runbook's greps: one-time-key conflicts, keys/upload
//! outcomes, to-device sends, delayed-event calls and request latency.
//!
//! Line format (Synapse's default `precise` formatter):
//! `2026-11-21 20:49:08,659 - synapse.http.server - 132 - INFO - POST-10 - <message>`.
//! Access lines (`synapse.access.http.*`) carry the requester:
//! `127.0.0.1 - 8008 - {@u:hs} Processed request: 0.008sec/0.000sec … 552B 400 "POST /path HTTP/1.1" …`.
//! Times are taken as UTC (Synapse logs the host's local time; servers usually run in UTC).

use crypto_health_core::otk::conflict::{self, OtkConflict};
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub struct Access {
    pub line: usize,
    pub ts: Option<u64>,
    pub user: Option<String>,
    pub secs: Option<f64>,
    pub status: Option<u16>,
    pub method: String,
    pub path: String,
    pub quote: String,
}

#[derive(Clone, Debug)]
pub struct Conflict {
    pub line: usize,
    pub user: Option<String>,
    pub conflict: OtkConflict,
    pub quote: String,
}

#[derive(Default)]
pub struct SynapseLog {
    pub path: String,
    pub lines: usize,
    pub parsed: usize,
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
    pub access: Vec<Access>,
    pub conflicts: Vec<Conflict>,
    /// Lines that mention a given string (event id), filled by `mentions`.
    raw: Vec<(usize, String)>,
}

struct Parsed<'a> {
    ts: Option<u64>,
    logger: &'a str,
    request: &'a str,
    message: &'a str,
}

fn parse_line(l: &str) -> Option<Parsed<'_>> {
    let mut it = l.splitn(6, " - ");
    let ts = it.next()?;
    let logger = it.next()?;
    let _lineno = it.next()?;
    let level = it.next()?;
    let request = it.next()?;
    let message = it.next()?;
    if !matches!(level, "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL") {
        return None;
    }
    Some(Parsed { ts: parse_ts(ts), logger, request, message })
}

/// `2026-11-21 20:49:08,548` → Unix ms (UTC).
pub fn parse_ts(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    let ms = if b.len() >= 23 && (b[19] == b',' || b[19] == b'.') { n(20..23)? } else { 0 };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let t = ((days * 24 + h) * 60 + mi) * 60 + se;
    (t >= 0).then(|| (t * 1000 + ms) as u64)
}

fn parse_access(msg: &str) -> Option<(Option<String>, Option<f64>, Option<u16>, String, String)> {
    let pr = msg.find("Processed request: ")?;
    let user = msg[..pr].rfind('{').and_then(|o| {
        let c = msg[o..pr].find('}')? + o;
        let u = &msg[o + 1..c];
        (u != "None" && !u.is_empty()).then(|| u.to_string())
    });
    let rest = &msg[pr + "Processed request: ".len()..];
    let secs = rest.split("sec").next().and_then(|x| x.trim().parse::<f64>().ok());
    let q = rest.find('"')?;
    let before = rest[..q].trim_end();
    let status = before.rsplit(' ').next().and_then(|x| x.parse::<u16>().ok());
    let req = &rest[q + 1..];
    let req = &req[..req.find('"')?];
    let mut parts = req.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    Some((user, secs, status, method, path))
}

pub fn parse(path: &str, text: &str) -> SynapseLog {
    let mut log = SynapseLog { path: path.to_string(), ..Default::default() };
    let mut request_user: HashMap<String, String> = HashMap::new();
    let mut pending: Vec<(String, Conflict)> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        log.lines = n;
        let Some(p) = parse_line(l) else { continue };
        log.parsed += 1;
        if let Some(t) = p.ts {
            log.first_ts = Some(log.first_ts.map_or(t, |f| f.min(t)));
            log.last_ts = Some(log.last_ts.map_or(t, |f| f.max(t)));
        }
        if p.logger.starts_with("synapse.access.") {
            if let Some((user, secs, status, method, path)) = parse_access(p.message) {
                if let Some(u) = &user {
                    request_user.insert(p.request.to_string(), u.clone());
                }
                log.access.push(Access { line: n, ts: p.ts, user, secs, status, method, path, quote: l.to_string() });
            }
        } else if p.message.contains(" already exists") {
            if let Some(c) = conflict::parse(p.message) {
                pending.push((p.request.to_string(), Conflict { line: n, user: None, conflict: c, quote: l.to_string() }));
            }
        }
        if l.contains('$') || l.contains("sendToDevice") {
            log.raw.push((n, l.to_string()));
        }
    }
    // The error line comes before its access line: attribute it through the request id.
    for (req, mut c) in pending {
        c.user = request_user.get(&req).cloned().or_else(|| signer_of(&c.conflict));
        log.conflicts.push(c);
    }
    log
}

/// The user id in the old key's `signatures`, when the request id did not name one.
fn signer_of(c: &OtkConflict) -> Option<String> {
    c.old_key.as_ref()?.get("signatures")?.as_object()?.keys().next().cloned()
}

impl SynapseLog {
    pub fn conflicts_for<'a>(&'a self, user: Option<&'a str>) -> impl Iterator<Item = &'a Conflict> + 'a {
        self.conflicts.iter().filter(move |c| user.is_none() || c.user.as_deref() == user)
    }
    pub fn access_for<'a>(&'a self, user: Option<&'a str>) -> impl Iterator<Item = &'a Access> + 'a {
        self.access.iter().filter(move |a| user.is_none() || a.user.as_deref() == user)
    }
    /// Lines mentioning `needle` (event ids, to-device event types).
    pub fn mentions<'a>(&'a self, needle: &'a str) -> impl Iterator<Item = &'a (usize, String)> + 'a {
        self.raw.iter().filter(move |(_, l)| l.contains(needle))
    }
    pub fn covers(&self, ts: u64, slack_ms: u64) -> bool {
        matches!((self.first_ts, self.last_ts), (Some(a), Some(b)) if ts + slack_ms >= a && ts <= b + slack_ms)
    }
    pub fn source(&self, line: usize) -> String {
        let name = std::path::Path::new(&self.path).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{name}:{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real lines from Synapse 1.163.2 (the e2e run), shortened signatures.
    const LOG: &str = r#"2026-11-21 20:49:08,548 - synapse.access.http.36609 - 643 - INFO - POST-6 - 127.0.0.1 - 36609 - {@healthy:localhost} Processed request: 0.016sec/0.000sec ru=(0.005sec, 0.000sec) db=(0.007sec/0.003sec/13) 48B 200 "POST /_matrix/client/v3/keys/upload HTTP/1.1" "ureq/2.12.1" [0 dbevts]
2026-11-21 20:49:08,659 - synapse.http.server - 132 - INFO - POST-10 - <SynapseRequest at 0x7fac408bba50 method='POST' uri='/_matrix/client/v3/keys/upload' clientproto='HTTP/1.1' site='36609'> SynapseError: 400 - One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"i/Ph","signatures":{"@ke1:localhost":{"ed25519:DEV":"s1"}}}; new key: {'key': 'Js6i', 'signatures': {'@ke1:localhost': {'ed25519:DEV': 's2'}}}
2026-11-21 20:49:08,660 - synapse.access.http.36609 - 643 - INFO - POST-10 - 127.0.0.1 - 36609 - {@ke1:localhost} Processed request: 0.008sec/0.000sec ru=(0.003sec, 0.000sec) db=(0.002sec/0.003sec/8) 552B 400 "POST /_matrix/client/v3/keys/upload HTTP/1.1" "ureq/2.12.1" [0 dbevts]
not a log line
"#;

    #[test]
    fn real_lines() {
        let l = parse("homeserver.log", LOG);
        assert_eq!((l.lines, l.parsed), (4, 3));
        assert_eq!(l.access.len(), 2);
        let a = &l.access[1];
        assert_eq!((a.user.as_deref(), a.status, a.method.as_str(), a.path.as_str()), (Some("@ke1:localhost"), Some(400), "POST", "/_matrix/client/v3/keys/upload"));
        assert_eq!(a.secs, Some(0.008));
        assert_eq!(l.conflicts.len(), 1);
        let c = &l.conflicts[0];
        assert_eq!((c.line, c.user.as_deref(), c.conflict.key_id.as_str(), c.conflict.diverged), (2, Some("@ke1:localhost"), "AAAAAAAAAA0", Some(true)));
        assert_eq!(l.conflicts_for(Some("@healthy:localhost")).count(), 0);
        assert_eq!(l.source(2), "homeserver.log:2");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_ts("1970-01-01 00:00:01,250"), Some(1250));
        assert_eq!(parse_ts("2026-11-21 20:49:08,548"), Some(1_795_294_148_548));
        assert_eq!(parse_ts("2026/11/21 20:49:08"), None);
    }
}
