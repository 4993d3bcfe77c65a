//! The diagnostics report: one schema-versioned model, written by the browser
//! (the core's JSON writer, `json::ToJson`) and read by the CLI (serde, with
//! the `serde` feature; the tests check both give the same text). `schema/report.schema.json` describes it.

#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod finding;
pub mod health;

use crate::environment::tab_guard::TabGuard;
use crate::evidence::decryption::DecryptionReport;
use crate::evidence::http::HttpStats;
use crate::evidence::journal::{ClassCount, Config, Entry, Journal};
use crate::evidence::redact::redact_value;
use crate::evidence::redact::{redact, RedactionCounts};
use crate::otk::health::OtkHealth;
use crate::report::finding::Finding;
use crate::report::health::Health;
use crate::support::map::SortedMap;
use crate::support::text::iso8601;
use serde_json::Value;

pub const SCHEMA_VERSION: u32 = 1;
pub const GENERATOR: &str = "crypto-health";

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Versions {
    pub app: Option<String>,
    pub sdk: Option<String>,
    /// `mx.getCrypto()?.getVersion()`: rust SDK + vodozemac.
    pub crypto: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub homeserver: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    pub usage: Option<u64>,
    pub quota: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CryptoStore {
    /// The rust crypto IndexedDB exists; null when databases cannot be listed.
    pub present: Option<bool>,
    /// The session's rust crypto IndexedDB: `<cryptoDatabasePrefix>::matrix-sdk-crypto`, the app's
    /// own prefix when it passes one (found by the session's user id, then remembered).
    pub name: Option<String>,
    /// Known matrix-js-sdk databases, and the session's own store, and whether each exists.
    pub databases: SortedMap<bool>,
    pub checked_at: Option<String>,
    /// When crypto-health first saw the store for this session on this browser.
    pub seen_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    /// `persisted` | `not_persisted` | `unsupported` | `unknown`.
    pub status: String,
    pub persisted: Option<bool>,
    /// We called `persist()` (only when not already persisted).
    pub requested: bool,
    pub estimate: Option<Estimate>,
    pub crypto_store: CryptoStore,
    /// Why a check could not be made (no IndexedDB, insecure context, …).
    pub notes: Vec<String>,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            status: "unknown".into(),
            persisted: None,
            requested: false,
            estimate: None,
            crypto_store: CryptoStore::default(),
            notes: Vec::new(),
        }
    }
}

/// What the host environment knows; the browser side fills it in.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Context {
    pub versions: Versions,
    pub user_agent: Option<String>,
    pub session: Session,
    pub sync_state: Option<String>,
    pub crypto_ready: Option<bool>,
    pub storage: Storage,
    pub extra: Value,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redaction {
    pub total: u32,
    /// u64 like the other count maps: one map type less in the wasm.
    pub by_kind: SortedMap<u64>,
}

impl From<&RedactionCounts> for Redaction {
    fn from(c: &RedactionCounts) -> Self {
        let mut by_kind = SortedMap::new();
        by_kind.extend(c.iter().map(|(k, n)| (k.as_str().to_owned(), u64::from(n))));
        Redaction { total: c.total(), by_kind }
    }
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capture {
    pub installed: bool,
    pub config: Config,
    pub lines_seen: u64,
    pub lines_matched: u64,
    pub evicted: u64,
    pub capture_errors: u64,
    /// Capture stopped after an internal error (what it was); the app went on.
    #[serde(default)]
    pub stopped_after_error: Option<String>,
    /// Lines logged before the wasm was ready, fed in at install / dropped (buffer full).
    #[serde(default)]
    pub early_lines: u64,
    #[serde(default)]
    pub early_dropped: u64,
    /// Console string arguments too long for the tap to read (rendered as their length).
    #[serde(default)]
    pub args_not_read: u64,
    /// Iframes the console tap adopted or, cross-origin, only noted.
    #[serde(default)]
    pub frames: Vec<FrameNote>,
}

/// One iframe as the console tap saw it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FrameNote {
    /// `frame:#id` or `frame:` and its address without query.
    pub source: String,
    /// Cross-origin: never touched, its lines are not captured.
    pub cross_origin: bool,
    /// Windows of this frame whose console was wrapped.
    pub windows: u64,
    /// When each was wrapped: `insert`, `document` (while loading), `load`.
    pub via: String,
    /// Console calls captured in this frame (matching a signature or not).
    pub lines: u64,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Generator {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema_version: u32,
    pub generator: Generator,
    pub generated_at: String,
    pub generated_at_ms: u64,
    pub versions: Versions,
    pub user_agent: Option<String>,
    pub session: Session,
    pub sync_state: Option<String>,
    pub crypto_ready: Option<bool>,
    pub storage: Storage,
    pub counts: SortedMap<ClassCount>,
    pub entries: Vec<Entry>,
    pub findings: Vec<Finding>,
    /// The overall level and each KE class's, decided from the counts, the findings and the one-time-key outcome.
    #[serde(default)]
    pub health: Health,
    pub redaction: Redaction,
    pub capture: Capture,
    pub extra: Value,
    /// KE-1 over HTTP: the one-time-key health of this device (null when the HTTP tap is off).
    #[serde(default)]
    pub otk_health: Option<OtkHealth>,
    /// What the fetch tap counted on watched endpoints (null when it is off).
    #[serde(default)]
    pub http: Option<HttpStats>,
    /// The multi-tab guard; absent from reports written before it existed.
    #[serde(default)]
    pub tab_guard: TabGuard,
    /// Why messages fail to decrypt (UTD causes); null when nothing watched the SDK's decryptions.
    #[serde(default)]
    pub decryption: Option<DecryptionReport>,
    /// Widget API evidence from a call frame (null when no call was seen).
    #[serde(default)]
    pub call: Option<crate::evidence::widget::CallEvidence>,
}

impl Report {
    /// Assemble a report from the journal and what the host knows. Free text
    /// from the host (`extra`, versions, user agent) is redacted too.
    pub fn build(journal: &Journal, ctx: Context, installed: bool, now_ms: u64) -> Report {
        let mut red = journal.redactions.clone();
        let mut extra = ctx.extra;
        redact_value(&mut extra, &mut red);
        let mut r = |s: Option<String>| s.map(|s| redact(&s, &mut red).into_owned());
        let versions = Versions { app: r(ctx.versions.app), sdk: r(ctx.versions.sdk), crypto: r(ctx.versions.crypto) };
        let user_agent = r(ctx.user_agent);
        let homeserver = r(ctx.session.homeserver);
        Report {
            schema_version: SCHEMA_VERSION,
            generator: Generator { name: GENERATOR.into(), version: env!("CARGO_PKG_VERSION").into() },
            generated_at: iso8601(now_ms),
            generated_at_ms: now_ms,
            versions,
            user_agent,
            session: Session { homeserver, ..ctx.session },
            sync_state: ctx.sync_state,
            crypto_ready: ctx.crypto_ready,
            storage: ctx.storage,
            counts: journal.counts(),
            entries: journal.entries().cloned().collect(),
            findings: journal.findings.clone(),
            health: Health::default(),
            redaction: Redaction::from(&red),
            capture: Capture {
                installed,
                config: journal.config(),
                lines_seen: journal.lines_seen,
                lines_matched: journal.lines_matched,
                evicted: journal.evicted,
                capture_errors: journal.capture_errors,
                stopped_after_error: None,
                early_lines: 0,
                early_dropped: 0,
                args_not_read: 0,
                frames: Vec::new(),
            },
            extra,
            otk_health: None,
            http: None,
            tab_guard: TabGuard::default(),
            decryption: None,
            call: None,
        }
    }

    /// Read a report, checking its schema version first so an old or foreign
    /// file gets a clear error instead of a field-by-field one.
    pub fn from_json(text: &str) -> Result<Report, ReadError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(ReadError::NotJson)?;
        match v.get("schemaVersion").and_then(serde_json::Value::as_u64) {
            Some(n) if n == SCHEMA_VERSION as u64 => {}
            Some(n) => return Err(ReadError::Version(n)),
            None => return Err(ReadError::NotAReport),
        }
        // From the text, not the Value: a Value object would re-sort the maps' keys.
        serde_json::from_str(text).map_err(ReadError::Shape)
    }
}

/// Why a file is not a report this build can read.
#[derive(Debug)]
pub enum ReadError {
    /// The text is not JSON (truncated, or another format).
    NotJson(serde_json::Error),
    /// JSON without a `schemaVersion`: another program's file.
    NotAReport,
    /// A report of another schema version.
    Version(u64),
    /// The right version, but a field does not have the schema's shape.
    Shape(serde_json::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotJson(e) => write!(f, "not JSON: {e}"),
            Self::NotAReport => f.write_str("not a crypto-health report: no schemaVersion"),
            Self::Version(n) => write!(f, "report schemaVersion {n} is not supported (this build reads {SCHEMA_VERSION})"),
            Self::Shape(e) => write!(f, "report does not match schema {SCHEMA_VERSION}: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}
