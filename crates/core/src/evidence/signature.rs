//! The KE signature table. Signatures are data: one row per failure text from
//! upstream: element-hq/synapse synapse/handlers/e2e_keys.py, matrix-org/matrix-js-sdk src/models/event.ts and src/matrixrtc/MembershipManager.ts, livekit/client-sdk-js src/e2ee/worker/FrameCryptor.ts. Adding a signature is one row here plus a case in
//! `tests/signatures.rs`. Rows are tried in order; the first match wins, so
//! specific rows come before their general fallback (KE-3 before `decrypt.other`).

/// Failure class (KE-1..KE-4, see the README's table); `Other` is counted but is not a KE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Class {
    #[serde(rename = "KE-1")]
    Ke1,
    #[serde(rename = "KE-2")]
    Ke2,
    #[serde(rename = "KE-3")]
    Ke3,
    #[serde(rename = "KE-4")]
    Ke4,
    #[serde(rename = "other")]
    Other,
}

impl Class {
    pub const ALL: [Class; 5] = [Class::Ke1, Class::Ke2, Class::Ke3, Class::Ke4, Class::Other];
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ke1 => "KE-1",
            Class::Ke2 => "KE-2",
            Class::Ke3 => "KE-3",
            Class::Ke4 => "KE-4",
            Class::Other => "other",
        }
    }
    /// What the class is, in a few words (the card's badge titles).
    pub fn what(self) -> &'static str {
        match self {
            Class::Ke1 => "one-time key upload rejected: crypto store diverged from the server",
            Class::Ke2 => "call media key missing",
            Class::Ke3 => "encrypted event without an algorithm",
            Class::Ke4 => "call membership (delayed event) timeouts",
            Class::Other => "other crypto lines",
        }
    }
    /// `None` for `Other`: the entry's `ke` field is null.
    pub fn ke(self) -> Option<&'static str> {
        (self != Class::Other).then(|| self.as_str())
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something is broken.
    Failure,
    /// Context or a healthy signal (e.g. a call key that did arrive).
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Failure => "failure",
            Severity::Info => "info",
        }
    }
}

/// Which extractor turns the matched text into fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extract {
    /// algorithm, key_id, key_id_scheme, counter, old_key, new_key, diverged.
    OtkConflict,
    /// method, endpoint, duration_ms, status from a FetchHttpApi `<--` line.
    HttpExchange,
    /// participant (+ user_id/device_id when it is `@user:server:DEVICE`), index.
    MediaKey,
    /// sender, event_type from rust tracing `key="value"` pairs.
    ToDevice,
    /// event_id, room_id, retrying, serde line/column.
    Decryption,
    /// attempt, max from `(n/max)`.
    Retry,
    /// max from `Reached maximum (N) retries`, cause.
    MaxRetries,
    None,
}

/// How a row matches: every `all` substring, at least one `any` (when not
/// empty), no `none`. `all[0]` is the row's prefilter needle: pick the
/// rarest, most specific text so non-matching lines are rejected by it.
#[derive(Debug, PartialEq)]
pub struct Signature {
    pub id: &'static str,
    pub class: Class,
    pub severity: Severity,
    pub all: &'static [&'static str],
    pub any: &'static [&'static str],
    pub none: &'static [&'static str],
    pub extract: Extract,
    pub summary: &'static str,
}

use Class::*;
use Extract as X;
use Severity::*;

pub static SIGNATURES: &[Signature] = &[
    Signature {
        id: "ke1.otk_conflict",
        class: Ke1,
        severity: Failure,
        all: &["One time key ", " already exists"],
        any: &[],
        none: &[],
        extract: X::OtkConflict,
        summary: "Synapse rejected a one-time key upload: same key id, different key (store/server divergence)",
    },
    Signature {
        id: "ke1.keys_upload_400",
        class: Ke1,
        severity: Info,
        all: &["/keys/upload", " 400]"],
        any: &["<-- POST"],
        none: &[],
        extract: X::HttpExchange,
        summary: "keys/upload answered 400 (FetchHttpApi debug line)",
    },
    Signature {
        id: "ke2.missing_key",
        class: Ke2,
        severity: Failure,
        all: &["missing key at index "],
        any: &[],
        none: &[],
        extract: X::MediaKey,
        summary: "LiveKit frame cryptor has no media key for a participant at this index",
    },
    Signature {
        id: "ke2.key_set_not_found",
        class: Ke2,
        severity: Failure,
        all: &["key set not found for "],
        any: &[],
        none: &[],
        extract: X::MediaKey,
        summary: "LiveKit frame cryptor has no key set for a participant",
    },
    Signature {
        id: "ke2.call_key_delivered",
        class: Ke2,
        severity: Info,
        all: &["io.element.call.encryption_keys", "nexpected encrypted to-device event"],
        any: &[],
        none: &[],
        extract: X::ToDevice,
        summary: "A call media key arrived and was decrypted (rust-crypto logs it after decryption): a healthy signal",
    },
    Signature {
        id: "ke3.missing_algorithm",
        class: Ke3,
        severity: Failure,
        all: &["rror decrypting event", "missing field "],
        any: &["`algorithm`", "'algorithm'", "\"algorithm\""],
        none: &[],
        extract: X::Decryption,
        summary: "An encrypted event has no `algorithm` in its content (malformed event or deserialisation bug)",
    },
    Signature {
        id: "decrypt.other",
        class: Other,
        severity: Info,
        all: &["rror decrypting event"],
        any: &[],
        none: &[],
        extract: X::Decryption,
        summary: "Another decryption failure (missing room key, unknown index, …): common and not KE-3",
    },
    Signature {
        id: "ke4.local_timeout_retry",
        class: Ke4,
        severity: Failure,
        all: &["Network local timeout error while sending event"],
        any: &[],
        none: &[],
        extract: X::Retry,
        summary: "MatrixRTC membership: the homeserver did not answer a delayed-event call within the local timeout",
    },
    Signature {
        id: "ke4.max_retries",
        class: Ke4,
        severity: Failure,
        all: &["Reached maximum (", "retries cause by"],
        any: &[],
        none: &[],
        extract: X::MaxRetries,
        summary: "MatrixRTC membership gave up after its maximum retries",
    },
    Signature {
        id: "ke4.restart_timed_out",
        class: Ke4,
        severity: Failure,
        all: &["Restart delayed event timed out"],
        any: &[],
        none: &[],
        extract: X::None,
        summary: "Restarting the membership's delayed event timed out before the homeserver responded",
    },
    Signature {
        id: "ke4.widget_update_failed",
        class: Ke4,
        severity: Failure,
        all: &["error updating delayed event"],
        any: &[],
        none: &[],
        extract: X::None,
        summary: "The widget host (Element Call iframe) failed to update a delayed event",
    },
];

/// Distinct prefilter needles (each row's `all[0]`): a line containing none of
/// them matches no row, so callers may skip it without classifying.
pub fn prefilter_needles() -> Vec<&'static str> {
    // No sort (it would cost the wasm bundle a sort routine): a quadratic pass over a dozen rows.
    let mut v: Vec<&'static str> = Vec::new();
    for s in SIGNATURES {
        let n = s.all[0];
        if !v.contains(&n) {
            v.push(n);
        }
    }
    // Drop needles that contain another needle: the shorter one already covers them.
    let all = v.clone();
    v.retain(|n| !all.iter().any(|m| m != n && n.contains(m)));
    v
}
