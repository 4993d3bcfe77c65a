//! What a browser's HAR capture said, as facts (the CLI reads the file and fills these in; it
//! never reads a header, cookie or query string).

use crate::otk::conflict::OtkConflict;
use serde_json::Value;

/// One HTTP call of the capture.
#[derive(Clone, Debug)]
pub struct Call {
    /// `har entries[12]`
    pub index: usize,
    /// Unix ms it started.
    pub ts: Option<u64>,
    /// HTTP method.
    pub method: String,
    /// The URL path, never its query string.
    pub path: String,
    /// 0: no response (aborted, timed out, blocked).
    pub status: u16,
    /// Total time.
    pub time_ms: f64,
    /// Time to first byte (`timings.wait`): the server's share.
    pub wait_ms: Option<f64>,
    /// The browser's `_error` (e.g. `net::ERR_ABORTED`), when it gave one.
    pub error: Option<String>,
}

impl Call {
    /// `har entries[12]`.
    pub fn source(&self) -> String {
        format!("har entries[{}]", self.index)
    }
    /// `POST /path → 400 in 12 ms, server wait 9 ms`.
    pub fn describe(&self) -> String {
        let status = if self.status == 0 {
            format!("no response{}", self.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())
        } else {
            self.status.to_string()
        };
        let wait = self.wait_ms.map(|w| format!(", server wait {w:.0} ms")).unwrap_or_default();
        format!("{} {} → {status} in {:.0} ms{wait}", self.method, self.path, self.time_ms)
    }
}

/// A keys/upload call.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The call.
    pub call: Call,
    /// `algorithm:key_id` of every one-time key in the request body.
    pub otk_ids: Vec<String>,
    /// Synapse's conflict text from the 400 body, parsed.
    pub conflict: Option<OtkConflict>,
    /// The request's own key object for the conflicting id (exact JSON, unlike the 400's repr).
    pub request_key: Option<Value>,
    /// The 400 body's `error` text.
    pub error_text: Option<String>,
}

/// The calls triage reads from one capture.
#[derive(Clone, Debug, Default)]
pub struct Har {
    /// The file's path.
    pub file: String,
    /// Entries in the capture.
    pub entries: usize,
    /// The user the uploads were for.
    pub user: Option<String>,
    /// The device the uploads were for.
    pub device: Option<String>,
    /// keys/upload calls.
    pub uploads: Vec<Upload>,
    /// Delayed-event calls (MSC4140/MSC4157).
    pub delayed: Vec<Call>,
    /// sendToDevice calls: (call, event type, devices addressed).
    pub to_device: Vec<(Call, String, usize)>,
}

impl Har {
    /// The file's base name.
    pub fn file_name(&self) -> String {
        std::path::Path::new(&self.file).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| self.file.clone())
    }
}
