//! The journal: a bounded ring buffer of matched entries plus totals that
//! survive eviction. Every source (console, window errors, HTTP) feeds it.

use crate::evidence::classify::{classify, Classified};
use crate::evidence::redact::{public_values, redact, redact_public, redact_value_public, RedactionCounts};
use crate::evidence::signature::{Class, Severity};
use crate::report::finding::Finding;
use crate::support::map::SortedMap;
use crate::support::obj;
use crate::support::text::{iso8601, truncate_marked};
use serde_json::{Map, Value};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Entries kept; older ones are evicted (their counts stay).
    pub capacity: usize,
    /// Bytes kept of each message; the cut is marked.
    pub max_message_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { capacity: 200, max_message_bytes: 4096 }
    }
}

impl Config {
    /// Clamp user-supplied values to something that cannot hurt the page.
    pub fn clamped(self) -> Config {
        Config { capacity: self.capacity.clamp(1, 10_000), max_message_bytes: self.max_message_bytes.clamp(256, 64 * 1024) }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// First time this exact message was seen (Unix ms).
    pub ts: u64,
    /// `debug` | `log` | `info` | `warn` | `error` | `uncaught` | `unhandledrejection` | `http`.
    pub level: String,
    /// `KE-1`..`KE-4`, or null for non-KE signatures.
    pub ke: Option<String>,
    pub signature: String,
    pub severity: Severity,
    /// Redacted, capped message.
    pub message: String,
    pub fields: Map<String, Value>,
    /// Identical messages seen again shortly after fold into one entry.
    pub repeats: u64,
    pub last_ts: u64,
    pub truncated: bool,
    /// Where the line was logged: `host`, or `frame:` and the frame's id or
    /// address (without query). Reports written before frames were captured
    /// read as `host`.
    #[serde(default = "host")]
    pub source: String,
}

/// The source of lines logged by the page itself.
pub const HOST: &str = "host";
/// Bytes kept of a source name (a frame's address can be long).
const MAX_SOURCE_BYTES: usize = 256;

fn host() -> String {
    HOST.to_owned()
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassCount {
    pub count: u64,
    pub failures: u64,
    pub first_seen: Option<u64>,
    pub last_seen: Option<u64>,
    pub by_signature: SortedMap<u64>,
}

/// Identical messages within this many most recent entries fold together: a
/// storm repeats the same few lines, and must not evict older evidence.
const FOLD_WINDOW: usize = 8;
/// An entry's fields hold at most this many times `max_message_bytes` of JSON:
/// with the message cap, what one entry can hold is bounded whatever the line.
const FIELDS_BUDGET_FACTOR: usize = 2;
/// Strings in a finding's evidence are capped like this.
const MAX_EVIDENCE_STRING: usize = 4096;
const LEVELS: [&str; 8] = ["debug", "log", "info", "warn", "error", "uncaught", "unhandledrejection", "http"];

#[derive(Debug, Default)]
pub struct Journal {
    cfg: Config,
    entries: VecDeque<Entry>,
    /// Indexed by `Class::index()`.
    counts: [ClassCount; Class::ALL.len()],
    pub redactions: RedactionCounts,
    pub findings: Vec<Finding>,
    pub lines_seen: u64,
    pub lines_matched: u64,
    pub evicted: u64,
    /// Failures inside capture (reported by the browser side), never thrown.
    pub capture_errors: u64,
}

impl Journal {
    pub fn new(cfg: Config) -> Self {
        Journal { cfg: cfg.clamped(), ..Default::default() }
    }

    pub fn config(&self) -> Config {
        self.cfg
    }

    /// Classify and, if it matches, store one message. Returns the stored (or
    /// folded-into) entry.
    pub fn observe(&mut self, level: &str, message: &str, ts: u64) -> Option<&Entry> {
        self.lines_seen += 1;
        let c = classify(message)?;
        Some(self.store(level, message, c, ts, true))
    }

    /// Store a message already classified. `counted: false` keeps it as
    /// evidence without counting it again (the same event seen on a second
    /// path). Message and fields are redacted before they are kept, and each
    /// field string is capped like the message.
    pub fn store(&mut self, level: &str, message: &str, c: Classified, ts: u64, counted: bool) -> &Entry {
        self.store_from(level, message, HOST, c, ts, counted)
    }

    /// [`store`](Self::store) for a line logged in `source` (a frame, or the
    /// host). Lines from two sources never fold together.
    #[allow(clippy::expect_used, reason = "the entry it returns was pushed just before")]
    pub fn store_from(&mut self, level: &str, message: &str, source: &str, c: Classified, ts: u64, counted: bool) -> &Entry {
        let sig = c.signature;
        if counted {
            self.lines_matched += 1;
            let cc = &mut self.counts[sig.class.index()];
            cc.count += 1;
            if sig.severity == Severity::Failure {
                cc.failures += 1;
            }
            cc.first_seen.get_or_insert(ts);
            cc.last_seen = Some(cc.last_seen.map_or(ts, |l| l.max(ts)));
            *cc.by_signature.or_default(sig.id) += 1;
        }

        // What the parser extracted as public (a KE-1 proof's keys) stays, in the text too.
        let fields = Value::Object(c.fields);
        let public_owned = public_values(&fields);
        let public: Vec<&str> = public_owned.iter().map(String::as_str).collect();
        // Redact the whole text before cutting it, so a cut never leaves half a token behind.
        let red = redact_public(message, &mut self.redactions, &public);
        let (msg, truncated) = truncate_marked(&red, self.cfg.max_message_bytes);
        let source = if source == HOST { host() } else { truncate_marked(&redact(source, &mut self.redactions), MAX_SOURCE_BYTES).0 };
        let n = self.entries.len();
        if let Some(i) = (n.saturating_sub(FOLD_WINDOW)..n)
            .rev()
            .find(|&i| self.entries[i].signature == sig.id && self.entries[i].message == msg && self.entries[i].source == source)
        {
            let e = &mut self.entries[i];
            e.repeats += 1;
            e.last_ts = e.last_ts.max(ts);
            return &self.entries[i];
        }
        if self.entries.len() >= self.cfg.capacity {
            self.entries.pop_front();
            self.evicted += 1;
        }
        let mut fields = fields;
        redact_value_public(&mut fields, &mut self.redactions, self.cfg.max_message_bytes, &public);
        let Value::Object(mut fields) = fields else { unreachable!("an object stays an object") };
        bound_fields(&mut fields, FIELDS_BUDGET_FACTOR * self.cfg.max_message_bytes);
        let level = LEVELS.iter().find(|l| **l == level).copied().unwrap_or("log");
        self.entries.push_back(Entry {
            ts,
            level: level.to_owned(),
            ke: sig.class.ke().map(str::to_owned),
            signature: sig.id.to_owned(),
            severity: sig.severity,
            message: msg,
            fields,
            repeats: 0,
            last_ts: ts,
            truncated,
            source,
        });
        self.entries.back().expect("just pushed")
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Per-class counts keyed `KE-1`..`KE-4`, `other`; every class present.
    pub fn counts(&self) -> SortedMap<ClassCount> {
        let mut counts = SortedMap::new();
        counts.extend(Class::ALL.iter().map(|c| (c.as_str().to_owned(), self.counts[c.index()].clone())));
        counts
    }

    pub fn count(&self, class: Class) -> u64 {
        self.counts[class.index()].count
    }

    /// Add or replace a finding (one per id: the newest evidence wins).
    pub fn add_finding(&mut self, mut f: Finding) {
        let public_owned = public_values(&f.evidence);
        let public: Vec<&str> = public_owned.iter().map(String::as_str).collect();
        f.title = redact_public(&f.title, &mut self.redactions, &public).into_owned();
        f.detail = redact_public(&f.detail, &mut self.redactions, &public).into_owned();
        redact_value_public(&mut f.evidence, &mut self.redactions, MAX_EVIDENCE_STRING, &public);
        match self.findings.iter_mut().find(|x| x.id == f.id) {
            Some(x) => *x = f,
            None => self.findings.push(f),
        }
    }

    /// The crypto store exists again after a `crypto_store_missing` finding: the finding stays
    /// (its first re-check is added to its evidence as `presentAgain`). Returns whether the store
    /// is back under the evicted device (re-created by rust crypto, KE-1 follows) rather than a
    /// new login's; false without an earlier finding.
    pub fn store_present_again(&mut self, user_id: Option<&str>, device_id: Option<&str>, now: u64) -> bool {
        let Some(f) = self.findings.iter_mut().find(|f| f.id == "crypto_store_missing") else { return false };
        let same = f.evidence["userId"].as_str() == user_id && f.evidence["deviceId"].as_str() == device_id;
        if let Some(ev) = f.evidence.as_object_mut() {
            ev.entry("presentAgain").or_insert_with(|| obj!({ "at": iso8601(now), "sameDevice": same, "deviceId": device_id }));
        }
        same
    }

    /// Drop a finding that is no longer current.
    pub fn remove_finding(&mut self, id: &str) {
        self.findings.retain(|f| f.id != id);
    }

    /// Forget entries and counts (not configuration).
    pub fn clear(&mut self) {
        // The report's fingerprint key outlives a clear; the counts do not.
        let redactions = self.redactions.zeroed();
        *self = Journal::new(self.cfg);
        self.redactions = redactions;
    }
}

/// Keep the fields within `budget` bytes of JSON: the largest values give way
/// first, each replaced by a marker saying how much was cut (keys stay, so a
/// reader sees which fact was too large).
fn bound_fields(fields: &mut Map<String, Value>, budget: usize) {
    let size = |v: &Value| serde_json::to_string(v).map_or(0, |t| t.len());
    let mut total: usize = fields.iter().map(|(k, v)| k.len() + size(v) + 4).sum();
    if total <= budget {
        return;
    }
    // A signature extracts a handful of named fields: picking the largest left
    // each round is cheap, and a tie goes to the first key.
    let mut left: Vec<(usize, String)> = fields.iter().map(|(k, v)| (size(v), k.clone())).collect();
    while total > budget {
        let Some(i) = left.iter().enumerate().rev().max_by_key(|(_, (n, _))| *n).map(|(i, _)| i) else { break };
        let (n, k) = left.remove(i);
        let marker = format!("[truncated {n} bytes]");
        total = total - n + marker.len() + 2;
        fields.insert(k, Value::String(marker));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KE1: &str = "Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"A\"}; new key: {'key': 'B'}";

    #[test]
    fn non_matching_lines_are_counted_not_stored() {
        let mut j = Journal::new(Config::default());
        assert!(j.observe("warn", "Sync connection lost", 1).is_none());
        assert_eq!((j.lines_seen, j.lines_matched, j.len()), (1, 0, 0));
    }

    #[test]
    fn ring_is_bounded_and_counts_survive_eviction() {
        let mut j = Journal::new(Config { capacity: 5, max_message_bytes: 4096 });
        for i in 0..100 {
            j.observe("warn", &format!("missing key at index {i} for participant @b:hs:DEV"), i as u64);
        }
        assert_eq!(j.len(), 5);
        assert_eq!(j.evicted, 95);
        let c = &j.counts()["KE-2"];
        assert_eq!((c.count, c.failures, c.first_seen, c.last_seen), (100, 100, Some(0), Some(99)));
        assert_eq!(j.entries().next().unwrap().fields["index"], 95);
    }

    #[test]
    fn storm_repeats_fold_into_one_entry() {
        let mut j = Journal::new(Config::default());
        for i in 0..1000 {
            j.observe("error", KE1, i as u64);
            j.observe("debug", "FetchHttpApi: <-- POST https://hs/_matrix/client/v3/keys/upload [65ms 400]", i as u64);
        }
        assert_eq!(j.len(), 2);
        let e = j.entries().next().unwrap();
        assert_eq!((e.repeats, e.ts, e.last_ts), (999, 0, 999));
        assert_eq!(j.counts()["KE-1"].count, 2000);
        assert_eq!(j.counts()["KE-1"].failures, 1000);
    }

    #[test]
    fn messages_are_capped_and_marked() {
        let mut j = Journal::new(Config { capacity: 10, max_message_bytes: 300 });
        let long = format!("{KE1} {}", "x".repeat(100_000));
        let e = j.observe("error", &long, 1).unwrap();
        assert!(e.truncated);
        assert!(e.message.len() < 400);
        assert!(e.message.contains("[truncated"));
        // Fields come from the full text, not the cut message.
        assert_eq!(e.fields["key_id"], "AAAAAAAAAA0");
    }

    #[test]
    fn secrets_are_redacted_before_storage() {
        let mut j = Journal::new(Config::default());
        let e = j
            .observe("error", &format!("{KE1} (https://hs/_matrix/client/v3/keys/upload?access_token=syt_YWxpY2U_abcdefghijkl_0a1b2c)"), 1)
            .unwrap();
        assert!(!e.message.contains("syt_YWxpY2U"), "{}", e.message);
        assert!(j.redactions.total() >= 1);
    }

    #[test]
    fn fields_are_bounded_whatever_the_line() {
        let mut j = Journal::new(Config { capacity: 10, max_message_bytes: 512 });
        // An old key with thousands of members: each string is small, together they are not.
        let members: Vec<String> = (0..3000).map(|i| format!("\"k{i}\":\"v{i}\"")).collect();
        let line = format!("Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {{{}}}; new key: {{'key': 'B'}}", members.join(","));
        let e = j.observe("error", &line, 1).unwrap();
        let size = serde_json::to_string(&e.fields).unwrap().len();
        assert!(size <= 2 * 512 + 64, "fields hold {size} bytes");
        assert_eq!(e.fields["key_id"], "AAAAAAAAAA0", "small facts stay");
        assert!(e.fields["old_key"].as_str().is_some_and(|s| s.starts_with("[truncated ")), "{}", e.fields["old_key"]);
    }

    #[test]
    fn the_largest_field_gives_way_first_and_a_tie_goes_to_the_first_key() {
        let big = |c: char| Value::String(c.to_string().repeat(100));
        let mut f: Map<String, Value> =
            [("a", big('a')), ("b", Value::from(1)), ("c", big('c'))].into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        bound_fields(&mut f, 150);
        assert!(f["a"].as_str().is_some_and(|s| s.starts_with("[truncated 102 bytes]")), "{}", f["a"]);
        assert_eq!((&f["b"], f["c"].as_str().map(str::len)), (&Value::from(1), Some(100)), "one cut was enough");
        bound_fields(&mut f, 120);
        assert!(f["c"].as_str().is_some_and(|s| s.starts_with("[truncated")), "then the next largest");
        assert_eq!(f["b"], 1, "small facts stay");
    }

    #[test]
    fn frame_lines_keep_their_source_and_do_not_fold_with_the_host() {
        let mut j = Journal::new(Config::default());
        let line = "missing key at index 3 for participant @b:hs:DEV";
        let c = || classify(line).unwrap();
        assert_eq!(j.store_from("warn", line, HOST, c(), 1, true).source, "host");
        let src = "frame:/element-call/index.html?access_token=syt_YWxpY2U_abcdefghijkl_0a1b2c";
        let e = j.store_from("warn", line, src, c(), 2, true);
        assert!(e.source.starts_with("frame:/element-call/index.html") && !e.source.contains("syt_YWxpY2U"), "{}", e.source);
        j.store_from("warn", line, src, c(), 3, true);
        assert_eq!((j.len(), j.entries().nth(1).unwrap().repeats), (2, 1));
        let long = format!("frame:{}", "x".repeat(10_000));
        assert!(j.store_from("warn", line, &long, c(), 4, true).source.len() < 400);
        // A report entry without the field reads as the host's.
        let mut v = serde_json::to_value(j.entries().next().unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("source");
        assert_eq!(serde_json::from_value::<Entry>(v).unwrap().source, "host");
    }

    #[test]
    fn unknown_level_is_log() {
        let mut j = Journal::new(Config::default());
        assert_eq!(j.observe("nonsense", KE1, 1).unwrap().level, "log");
    }
}
