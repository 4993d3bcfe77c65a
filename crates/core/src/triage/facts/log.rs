//! What the homeserver's log said, as facts (the CLI streams the files and fills these in).

use crate::otk::conflict::OtkConflict;
use std::collections::HashMap;

/// A line in one of the files read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    /// Index into [`SynapseLog::files`].
    pub file: usize,
    /// 1-based line number in that file.
    pub line: usize,
}

/// An access line (`Processed request: …`), parsed.
#[derive(Clone, Debug)]
pub struct Access {
    /// Where it was read.
    pub loc: Loc,
    /// Unix ms (UTC).
    pub ts: Option<u64>,
    /// The requester (`{@u:hs}`).
    pub user: Option<String>,
    /// Seconds the request took on the server.
    pub secs: Option<f64>,
    /// HTTP status.
    pub status: Option<u16>,
    /// HTTP method.
    pub method: String,
    /// Path, query cut off.
    pub path: String,
    /// The line, redacted, for evidence.
    pub quote: String,
}

/// Every conflict on one key of one device, folded: the latest text, how often, when.
#[derive(Clone, Debug)]
pub struct Conflict {
    /// The latest line.
    pub loc: Loc,
    /// The first line.
    pub first_loc: Loc,
    /// The requester, when its access line was seen.
    pub user: Option<String>,
    /// From the key's signature (`ed25519:<device>`), when the text has it.
    pub device: Option<String>,
    /// Synapse's conflict text, parsed.
    pub conflict: OtkConflict,
    /// The latest line, redacted.
    pub quote: String,
    /// How many times.
    pub count: u64,
    /// Unix ms of the first.
    pub first_ts: Option<u64>,
    /// Unix ms of the latest.
    pub last_ts: Option<u64>,
}

/// keys/upload outcomes of one user.
#[derive(Clone, Debug, Default)]
pub struct Uploads {
    /// Requests seen.
    pub total: u64,
    /// Of which answered 400.
    pub rejected_400: u64,
    /// The first 400.
    pub first_400: Option<Access>,
    /// The last request.
    pub last: Option<Access>,
}

/// The facts read from one or more log files.
#[derive(Default)]
pub struct SynapseLog {
    /// The files, in the order read (time order).
    pub files: Vec<String>,
    /// Lines read.
    pub lines: usize,
    /// Lines in Synapse's format.
    pub parsed: usize,
    /// Unix ms of the first timed line.
    pub first_ts: Option<u64>,
    /// Unix ms of the last timed line.
    pub last_ts: Option<u64>,
    /// One-time-key conflicts, folded per (user, device, key id).
    pub conflicts: Vec<Conflict>,
    /// Conflicts beyond the cap, counted only.
    pub conflicts_dropped: u64,
    /// Lines longer than the reader's cap, read only up to it.
    pub long_lines: u64,
    /// keys/upload outcomes per user.
    pub uploads: HashMap<String, Uploads>,
    /// Access lines inside the asked time windows, in log order.
    pub window_access: Vec<Access>,
    /// Per asked mention: (loc, line).
    pub mentions: Vec<(String, Vec<(Loc, String)>)>,
    /// Per file: lines and parsed lines.
    pub per_file: Vec<(usize, usize)>,
}

impl SynapseLog {
    /// Conflicts of `user` (all users when `None`).
    pub fn conflicts_for<'a>(&'a self, user: Option<&'a str>) -> impl Iterator<Item = &'a Conflict> + 'a {
        self.conflicts.iter().filter(move |c| user.is_none() || c.user.as_deref() == user)
    }
    /// keys/upload outcomes of `user`.
    pub fn uploads_of(&self, user: &str) -> Option<&Uploads> {
        self.uploads.get(user)
    }
    /// Lines mentioning `needle` (asked for in the query).
    pub fn mentions<'a>(&'a self, needle: &str) -> impl Iterator<Item = &'a (Loc, String)> + 'a {
        self.mentions.iter().find(|(m, _)| m == needle).map(|(_, v)| v.as_slice()).unwrap_or(&[]).iter()
    }
    /// Whether the log's time span reaches `ts`, give or take `slack_ms`.
    pub fn covers(&self, ts: u64, slack_ms: u64) -> bool {
        matches!((self.first_ts, self.last_ts), (Some(a), Some(b)) if ts + slack_ms >= a && ts <= b + slack_ms)
    }
    /// The base name of file `file`.
    pub fn file_name(&self, file: usize) -> String {
        let p = self.files.get(file).map(String::as_str).unwrap_or("?");
        std::path::Path::new(p).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| p.to_string())
    }
    /// `homeserver.log:216`.
    pub fn source(&self, loc: Loc) -> String {
        format!("{}:{}", self.file_name(loc.file), loc.line)
    }
    /// The end of the last file read.
    pub fn end(&self) -> Loc {
        Loc { file: self.files.len().saturating_sub(1), line: self.per_file.last().map_or(0, |p| p.0) }
    }
}
