//! Synapse's homeserver.log, streamed: one pass over each file, memory flat in the size of the log.
//!
//! Line format (Synapse's default `precise` formatter):
//! `2026-11-21 20:49:08,659 - synapse.http.server - 132 - INFO - POST-10 - <message>`.
//! Access lines (`synapse.access.http.*`) carry the requester:
//! `127.0.0.1 - 8008 - {@u:hs} Processed request: 0.008sec/0.000sec … 552B 400 "POST /path HTTP/1.1" …`.
//! Times are taken as UTC (Synapse logs the host's local time; servers usually run in UTC).
//!
//! What is kept is bounded by what the caller asks ([`LogQuery`]) and by the number of distinct
//! conflicting keys, never by the number of lines: keys/upload outcomes are counted per user,
//! one-time-key conflicts folded per (user, device, key id), access lines kept only inside the
//! asked time windows, and lines mentioning an asked string up to a cap. Files are read as bytes
//! (a stray invalid byte does not stop the read); gzip files (rotated `homeserver.log.N.gz`) are
//! decompressed on the fly; several files are read in time order (by their first timestamp).

use super::error::LogError;
use crypto_health_core::otk::conflict::{self, OtkConflict};
use flate2::read::MultiGzDecoder;
use memchr::memmem::Finder;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};

pub(crate) use crypto_health_core::triage::facts::log::{Access, Conflict, Loc, SynapseLog};

/// What to keep beyond the counts.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogQuery {
    /// Keep quotes of this user's keys/upload lines.
    pub user: Option<String>,
    /// Keep access lines whose time falls in one of these (from, to) ms windows.
    pub windows: Vec<(u64, u64)>,
    /// Keep up to [`MENTION_CAP`] lines containing each of these strings.
    pub mentions: Vec<String>,
    /// Only conflicts in this (from, to) ms window count (the scan's window).
    pub conflict_window: Option<(u64, u64)>,
}

pub(crate) const MENTION_CAP: usize = 20;
pub(crate) const WINDOW_ACCESS_CAP: usize = 20_000;
/// Distinct conflicting (user, device, key) triples kept; more are counted in `conflicts_dropped`.
pub(crate) const CONFLICT_CAP: usize = 100_000;
const PENDING_CAP: usize = 10_000;
/// Bytes of one line that are looked at; the rest of a longer line is skipped (and counted).
pub(crate) const MAX_LINE: usize = 1 << 20;

/// `2026-11-21 20:49:08,548` → Unix ms (UTC).
pub(crate) fn parse_ts(s: &[u8]) -> Option<u64> {
    let b = s;
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as i64;
        }
        Some(v)
    };
    let (y, mo, d, h, mi, se) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
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

/// `YYYY-MM-DD[ T]HH:MM[:SS]` (UTC) or Unix ms, for `--since`/`--until`.
pub(crate) fn parse_time_arg(s: &str) -> Option<u64> {
    if let Ok(ms) = s.parse::<u64>() {
        return Some(ms);
    }
    let t = s.trim_end_matches('Z').replace('T', " ");
    let t = match t.len() {
        10 => format!("{t} 00:00:00"),
        16 => format!("{t}:00"),
        _ => t,
    };
    parse_ts(t.as_bytes())
}

struct Fields<'a> {
    ts: Option<u64>,
    logger: &'a [u8],
    request: &'a [u8],
    message: &'a [u8],
}

struct Finders {
    sep: Finder<'static>,
    processed: Finder<'static>,
    exists: Finder<'static>,
    upload: Finder<'static>,
    mentions: Vec<Finder<'static>>,
}

fn split_fields<'a>(f: &Finders, l: &'a [u8]) -> Option<Fields<'a>> {
    let mut parts: [&[u8]; 5] = [&[]; 5];
    let mut rest = l;
    for p in parts.iter_mut() {
        let i = f.sep.find(rest)?;
        *p = &rest[..i];
        rest = &rest[i + 3..];
    }
    let [ts, logger, _lineno, level, request] = parts;
    if !matches!(level, b"DEBUG" | b"INFO" | b"WARNING" | b"ERROR" | b"CRITICAL") {
        return None;
    }
    Some(Fields { ts: parse_ts(ts), logger, request, message: rest })
}

/// (user, seconds, status, method, path) of an access line.
type AccessFields = (Option<String>, Option<f64>, Option<u16>, String, String);

fn parse_access(msg: &str) -> Option<AccessFields> {
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
    // Never keep a query string: it may carry an access token.
    let path = parts.next()?.split('?').next().unwrap_or("").to_string();
    Some((user, secs, status, method, path))
}

/// The request line of an access quote with its query string cut (tokens travel there).
fn strip_queries(l: &str) -> String {
    let mut out = String::with_capacity(l.len());
    let mut rest = l;
    while let Some(q) = rest.find('?') {
        out.push_str(&rest[..q]);
        let after = &rest[q..];
        let end = after.find([' ', '"']).unwrap_or(after.len());
        out.push_str("?…");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The user id and device of the key's signature (`{"@u:hs": {"ed25519:DEV": …}}`).
fn signer_of(c: &OtkConflict) -> (Option<String>, Option<String>) {
    let sig = c.old_key.as_ref().or(c.new_key.as_ref()).and_then(|k| k.get("signatures")).and_then(|s| s.as_object());
    let Some(sig) = sig else { return (None, None) };
    let Some((user, v)) = sig.iter().next() else { return (None, None) };
    let device = v.as_object().and_then(|m| m.iter().find_map(|(k, _)| k.strip_prefix("ed25519:").map(String::from)));
    (Some(user.to_string()), device)
}

/// A reader over a file, decompressing gzip (by its magic bytes, whatever the name).
fn open_reader(path: &str) -> Result<Box<dyn BufRead>, LogError> {
    let io = |source| LogError::Io { path: path.to_string(), source };
    let mut f = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io)?;
    drop(f);
    let f = File::open(path).map_err(io)?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(1 << 20, MultiGzDecoder::new(BufReader::with_capacity(1 << 16, f))))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, f))
    })
}

/// The first timestamp in the first 1000 lines, to order the files.
fn first_ts_of(path: &str) -> Result<Option<u64>, LogError> {
    let mut r = open_reader(path)?.take(4 << 20);
    let mut buf = Vec::new();
    for _ in 0..1000 {
        buf.clear();
        if r.read_until(b'\n', &mut buf).map_err(|source| LogError::Io { path: path.to_string(), source })? == 0 {
            break;
        }
        if let Some(t) = parse_ts(&buf) {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

struct State<'q> {
    q: &'q LogQuery,
    f: Finders,
    log: SynapseLog,
    /// Conflict index per (user, device, algorithm, key id).
    index: HashMap<(Option<String>, Option<String>, String, String), usize>,
    /// Conflicts waiting for their access line (same request id), which names the user.
    pending: HashMap<Vec<u8>, usize>,
}

impl<'q> State<'q> {
    fn new(q: &'q LogQuery) -> Self {
        let f = Finders {
            sep: Finder::new(" - "),
            processed: Finder::new("Processed request: "),
            exists: Finder::new(" already exists"),
            upload: Finder::new("/keys/upload"),
            mentions: q.mentions.iter().map(|m| Finder::new(m.as_bytes()).into_owned()).collect(),
        };
        let log = SynapseLog { mentions: q.mentions.iter().map(|m| (m.clone(), Vec::new())).collect(), ..Default::default() };
        State { q, f, log, index: HashMap::new(), pending: HashMap::new() }
    }

    fn line(&mut self, loc: Loc, l: &[u8]) {
        let l = match l {
            [rest @ .., b'\r'] => rest,
            _ => l,
        };
        for (i, m) in self.f.mentions.iter().enumerate() {
            let kept = &mut self.log.mentions[i].1;
            if kept.len() < MENTION_CAP && m.find(l).is_some() {
                kept.push((loc, strip_queries(&String::from_utf8_lossy(l))));
            }
        }
        if !l.first().is_some_and(u8::is_ascii_digit) {
            return;
        }
        let Some(p) = split_fields(&self.f, l) else { return };
        self.log.parsed += 1;
        if let Some(t) = p.ts {
            self.log.first_ts = Some(self.log.first_ts.map_or(t, |f| f.min(t)));
            self.log.last_ts = Some(self.log.last_ts.map_or(t, |f| f.max(t)));
        }
        if p.logger.starts_with(b"synapse.access.") {
            let upload = self.f.upload.find(p.message).is_some();
            let in_window = p.ts.is_some_and(|t| self.q.windows.iter().any(|(a, b)| t >= *a && t <= *b))
                && self.log.window_access.len() < WINDOW_ACCESS_CAP;
            let pending = !self.pending.is_empty() && self.pending.contains_key(p.request);
            if !(upload || in_window || pending) || self.f.processed.find(p.message).is_none() {
                return;
            }
            let msg = String::from_utf8_lossy(p.message);
            let Some((user, secs, status, method, path)) = parse_access(&msg) else { return };
            if pending {
                if let Some(i) = self.pending.remove(p.request) {
                    self.attribute(i, user.clone());
                }
            }
            let quote = || strip_queries(&String::from_utf8_lossy(l));
            let a = |quote: String| Access {
                loc,
                ts: p.ts,
                user: user.clone(),
                secs,
                status,
                method: method.clone(),
                path: path.clone(),
                quote,
            };
            if upload && method == "POST" && path.ends_with("/keys/upload") {
                if let Some(u) = &user {
                    let keep = self.q.user.as_deref() == Some(u.as_str());
                    let e = self.log.uploads.entry(u.clone()).or_default();
                    e.total += 1;
                    if status == Some(400) {
                        e.rejected_400 += 1;
                        if keep && e.first_400.is_none() {
                            e.first_400 = Some(a(quote()));
                        }
                    }
                    if keep {
                        e.last = Some(a(quote()));
                    }
                }
            }
            if in_window {
                self.log.window_access.push(a(quote()));
            }
        } else if self.f.exists.find(p.message).is_some() {
            if let Some((from, to)) = self.q.conflict_window {
                if !p.ts.is_some_and(|t| t >= from && t <= to) {
                    return;
                }
            }
            let msg = String::from_utf8_lossy(p.message);
            let Some(c) = conflict::parse(&msg) else { return };
            let (signer, device) = signer_of(&c);
            let key = (signer.clone(), device.clone(), c.algorithm.clone(), c.key_id.clone());
            let i = match self.index.get(&key) {
                Some(&i) => {
                    let e = &mut self.log.conflicts[i];
                    e.count += 1;
                    e.loc = loc;
                    e.last_ts = p.ts.or(e.last_ts);
                    e.quote = String::from_utf8_lossy(l).into_owned();
                    // Keep the most complete text: a cut one does not replace a whole one.
                    if c.diverged.is_some() || e.conflict.diverged.is_none() {
                        e.conflict = c;
                    }
                    i
                }
                None if self.log.conflicts.len() >= CONFLICT_CAP => {
                    self.log.conflicts_dropped += 1;
                    return;
                }
                None => {
                    self.log.conflicts.push(Conflict {
                        loc,
                        first_loc: loc,
                        user: signer,
                        device,
                        conflict: c,
                        quote: String::from_utf8_lossy(l).into_owned(),
                        count: 1,
                        first_ts: p.ts,
                        last_ts: p.ts,
                    });
                    self.index.insert(key, self.log.conflicts.len() - 1);
                    self.log.conflicts.len() - 1
                }
            };
            if self.pending.len() < PENDING_CAP {
                self.pending.insert(p.request.to_vec(), i);
            }
        }
    }

    /// The access line's requester is who uploaded: it wins over the signature's user id.
    fn attribute(&mut self, i: usize, user: Option<String>) {
        if let Some(u) = user {
            self.log.conflicts[i].user = Some(u);
        }
    }

    /// Line by line through the reader's own buffer; a line longer than [`MAX_LINE`] is cut there
    /// (no Synapse line is that long), so one hostile line cannot take the memory either.
    fn read(&mut self, file: usize, r: &mut dyn BufRead) -> Result<(), std::io::Error> {
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let mut n = 0;
        let parsed_before = self.log.parsed;
        let mut pending = false;
        let mut cut = false;
        loop {
            let avail = match r.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if pending {
                    n += 1;
                    self.log.long_lines += u64::from(cut);
                    self.line(Loc { file, line: n }, &buf);
                }
                break;
            }
            let (take, end) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            if end && buf.is_empty() {
                // The whole line is in the reader's buffer: no copy.
                n += 1;
                self.log.long_lines += u64::from(take > MAX_LINE);
                self.line(Loc { file, line: n }, &avail[..take.min(MAX_LINE)]);
                r.consume(take + 1);
                continue;
            }
            let room = MAX_LINE.saturating_sub(buf.len());
            buf.extend_from_slice(&avail[..take.min(room)]);
            cut |= take > room;
            r.consume(if end { take + 1 } else { take });
            if end {
                n += 1;
                self.log.long_lines += u64::from(cut);
                self.line(Loc { file, line: n }, &buf);
                buf.clear();
                pending = false;
                cut = false;
            } else {
                pending = true;
            }
        }
        self.log.lines += n;
        self.log.per_file.push((n, self.log.parsed - parsed_before));
        Ok(())
    }
}

/// Read every file (time order), one pass each.
pub(crate) fn read_files(paths: &[String], q: &LogQuery) -> Result<SynapseLog, LogError> {
    let mut order: Vec<(Option<u64>, usize, &String)> = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        order.push((first_ts_of(p)?, i, p));
    }
    // Files without a timestamp go last, in the order given.
    order.sort_by_key(|(t, i, _)| (t.is_none(), *t, *i));
    let mut st = State::new(q);
    for (fi, (_, _, p)) in order.iter().enumerate() {
        st.log.files.push(p.to_string());
        let mut r = open_reader(p)?;
        st.read(fi, &mut *r).map_err(|source| LogError::Io { path: p.to_string(), source })?;
        if st.log.per_file[fi].1 == 0 {
            return Err(LogError::NotSynapse { path: p.to_string(), lines: st.log.per_file[fi].0 });
        }
    }
    Ok(st.log)
}

/// One text, as one file named `path` (tests).
#[cfg(test)]
pub(crate) fn parse(path: &str, text: &str, q: &LogQuery) -> SynapseLog {
    let mut st = State::new(q);
    st.log.files.push(path.to_string());
    st.read(0, &mut std::io::Cursor::new(text.as_bytes())).unwrap();
    st.log
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    // Real lines from Synapse 1.163.2 (the e2e run), shortened signatures.
    pub(super) const LOG: &str = r#"2026-11-21 20:49:08,548 - synapse.access.http.36609 - 643 - INFO - POST-6 - 127.0.0.1 - 36609 - {@healthy:localhost} Processed request: 0.016sec/0.000sec ru=(0.005sec, 0.000sec) db=(0.007sec/0.003sec/13) 48B 200 "POST /_matrix/client/v3/keys/upload HTTP/1.1" "ureq/2.12.1" [0 dbevts]
2026-11-21 20:49:08,659 - synapse.http.server - 132 - INFO - POST-10 - <SynapseRequest at 0x7fac408bba50 method='POST' uri='/_matrix/client/v3/keys/upload' clientproto='HTTP/1.1' site='36609'> SynapseError: 400 - One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {"key":"i/Ph","signatures":{"@ke1:localhost":{"ed25519:DEV":"s1"}}}; new key: {'key': 'Js6i', 'signatures': {'@ke1:localhost': {'ed25519:DEV': 's2'}}}
2026-11-21 20:49:08,660 - synapse.access.http.36609 - 643 - INFO - POST-10 - 127.0.0.1 - 36609 - {@ke1:localhost} Processed request: 0.008sec/0.000sec ru=(0.003sec, 0.000sec) db=(0.002sec/0.003sec/8) 552B 400 "POST /_matrix/client/v3/keys/upload?access_token=syt_secret HTTP/1.1" "ureq/2.12.1" [0 dbevts]
not a log line
"#;

    #[test]
    fn real_lines() {
        let q = LogQuery { user: Some("@ke1:localhost".into()), ..Default::default() };
        let l = parse("homeserver.log", LOG, &q);
        assert_eq!((l.lines, l.parsed), (4, 3));
        let u = l.uploads_of("@ke1:localhost").unwrap();
        assert_eq!((u.total, u.rejected_400), (1, 1));
        let a = u.first_400.as_ref().unwrap();
        assert_eq!(
            (a.user.as_deref(), a.status, a.method.as_str(), a.path.as_str()),
            (Some("@ke1:localhost"), Some(400), "POST", "/_matrix/client/v3/keys/upload")
        );
        assert_eq!(a.secs, Some(0.008));
        assert!(!a.quote.contains("syt_secret"), "{}", a.quote);
        assert_eq!(
            l.uploads_of("@healthy:localhost").map(|u| (u.total, u.rejected_400, u.last.is_none())),
            Some((1, 0, true)),
            "others are counted, not quoted"
        );
        assert_eq!(l.conflicts.len(), 1);
        let c = &l.conflicts[0];
        assert_eq!(
            (c.loc.line, c.user.as_deref(), c.device.as_deref(), c.conflict.key_id.as_str(), c.conflict.diverged),
            (2, Some("@ke1:localhost"), Some("DEV"), "AAAAAAAAAA0", Some(true))
        );
        assert_eq!(l.conflicts_for(Some("@healthy:localhost")).count(), 0);
        assert_eq!(l.source(Loc { file: 0, line: 2 }), "homeserver.log:2");
    }

    #[test]
    fn conflicts_fold_per_key_and_windows_bound_what_is_kept() {
        let conflict = LOG.lines().nth(1).unwrap();
        let mut text = String::new();
        for i in 0..50 {
            text.push_str(&conflict.replace("20:49:08,659", &format!("20:49:{:02},000", i % 60)));
            text.push('\n');
            text.push_str(&LOG.lines().next().unwrap().replace("20:49:08,548", &format!("20:49:{:02},500", i % 60)));
            text.push('\n');
        }
        let from = parse_ts(b"2026-11-21 20:49:10,000").unwrap();
        let q = LogQuery { windows: vec![(from, from + 4_999)], mentions: vec!["AAAAAAAAAA0".into()], ..Default::default() };
        let l = parse("h.log", &text, &q);
        assert_eq!(l.conflicts.len(), 1);
        assert_eq!(l.conflicts[0].count, 50);
        assert_eq!((l.conflicts[0].first_loc.line, l.conflicts[0].loc.line), (1, 99));
        assert_eq!(l.window_access.len(), 5, "only the access lines in 20:49:10..20:49:14.999");
        assert_eq!(l.mentions("AAAAAAAAAA0").count(), MENTION_CAP);
        let q = LogQuery { conflict_window: Some((from, from + 999)), ..Default::default() };
        assert_eq!(parse("h.log", &text, &q).conflicts[0].count, 1);
    }

    #[test]
    fn rotated_and_gzipped_files_in_time_order() {
        let dir = std::env::temp_dir().join(format!("crypto-health-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lines: Vec<&str> = LOG.lines().collect();
        let newest = dir.join("homeserver.log");
        std::fs::write(&newest, format!("{}\n", lines[2].replace("20:49:08", "21:00:00"))).unwrap();
        let older = dir.join("homeserver.log.1.gz");
        let mut gz = flate2::write::GzEncoder::new(File::create(&older).unwrap(), flate2::Compression::fast());
        writeln!(gz, "{}\n{}", lines[0], lines[1]).unwrap();
        gz.finish().unwrap();
        let paths = vec![newest.display().to_string(), older.display().to_string()];
        let l = read_files(&paths, &LogQuery::default()).unwrap();
        assert_eq!(l.file_name(0), "homeserver.log.1.gz");
        assert_eq!(l.file_name(1), "homeserver.log");
        assert_eq!((l.lines, l.parsed), (3, 3));
        assert_eq!(l.source(l.conflicts[0].loc), "homeserver.log.1.gz:2");
        // The access line that names the uploader is in the next file: still attributed.
        assert_eq!(l.conflicts[0].user.as_deref(), Some("@ke1:localhost"));
        std::fs::write(dir.join("junk.log"), "hello\n").unwrap();
        let e = read_files(&[dir.join("junk.log").display().to_string()], &LogQuery::default()).err().unwrap().to_string();
        assert!(e.contains("no Synapse log line"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_huge_line_is_cut_not_kept() {
        let lines: Vec<&str> = LOG.lines().collect();
        let text = format!("{}\n{}{}\n{}", lines[0], lines[1], "x".repeat(3 * MAX_LINE), lines[2]);
        let l = parse("h.log", &text, &LogQuery::default());
        assert_eq!((l.lines, l.parsed, l.long_lines), (3, 3, 1));
        assert_eq!(l.conflicts.len(), 1, "the conflict at the head of the long line is still read");
        assert_eq!(l.conflicts[0].user.as_deref(), Some("@ke1:localhost"), "the last line, without a newline, is read");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_ts(b"1970-01-01 00:00:01,250"), Some(1250));
        assert_eq!(parse_ts(b"2026-11-21 20:49:08,548"), Some(1_795_294_148_548));
        assert_eq!(parse_ts(b"2026/11/21 20:49:08"), None);
        assert_eq!(parse_time_arg("2026-11-21T20:49:08Z"), Some(1_795_294_148_000));
        assert_eq!(parse_time_arg("2026-11-21"), parse_ts(b"2026-11-21 00:00:00"));
        assert_eq!(parse_time_arg("1795294148000"), Some(1_795_294_148_000));
    }
}
