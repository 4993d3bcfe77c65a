//! The KE signature table. Signatures are data: one row per failure text from
//! upstream: element-hq/synapse synapse/handlers/e2e_keys.py, matrix-org/matrix-js-sdk src/models/event.ts and src/matrixrtc/MembershipManager.ts, livekit/client-sdk-js src/e2ee/worker/FrameCryptor.ts,
//! matrix-org/matrix-rust-sdk crates/matrix-sdk-crypto (olm/account.rs, session_manager/sessions.rs, identities/manager.rs).
//! The wordings differ across releases: each row says which matrix-js-sdk (37..43) and Element Call (0.20..0.24) releases print it,
//! and `tests/signatures.rs` has a case per wording naming its release. What a row means is the comment above it (a
//! comment, not a field: no code reads it, and the wasm would carry the text). Adding a signature is one row here plus a case in
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
}

use Class::*;
use Extract as X;
use Severity::*;

pub static SIGNATURES: &[Signature] = &[
    // Synapse rejected a one-time key upload: same key id, different key (store/server divergence)
    Signature {
        id: "ke1.otk_conflict",
        class: Ke1,
        severity: Failure,
        all: &["One time key ", " already exists"],
        any: &[],
        none: &[],
        extract: X::OtkConflict,
    },
    // keys/upload answered 400 (FetchHttpApi debug line)
    Signature {
        id: "ke1.keys_upload_400",
        class: Ke1,
        severity: Info,
        all: &["/keys/upload", " 400]"],
        any: &["<-- POST"],
        none: &[],
        extract: X::HttpExchange,
    },
    // LiveKit frame cryptor has no media key for a participant at this index
    Signature {
        id: "ke2.missing_key",
        class: Ke2,
        severity: Failure,
        all: &["missing key at index "],
        any: &[],
        none: &[],
        extract: X::MediaKey,
    },
    // LiveKit frame cryptor has no key set for a participant
    Signature {
        id: "ke2.key_set_not_found",
        class: Ke2,
        severity: Failure,
        all: &["key set not found for "],
        any: &[],
        none: &[],
        extract: X::MediaKey,
    },
    // A call media key arrived and was decrypted (rust-crypto logs it after decryption): a healthy signal
    Signature {
        id: "ke2.call_key_delivered",
        class: Ke2,
        severity: Info,
        all: &["io.element.call.encryption_keys", "nexpected encrypted to-device event"],
        any: &[],
        none: &[],
        extract: X::ToDevice,
    },
    // An Olm to-device message (call keys travel this way) was encrypted for an identity this device no longer has (KE-1): it never decrypts, the call never gets the key
    Signature {
        id: "ke2.olm_missing_ciphertext",
        class: Ke2,
        severity: Failure,
        all: &["ciphertext for our key"],
        any: &[],
        none: &[],
        extract: X::ToDevice,
    },
    // No Olm session to a peer device: its one-time key is signed by an identity it lost (KE-1 on that device); our call keys never reach it
    Signature {
        id: "ke2.peer_unreachable",
        class: Ke2,
        severity: Failure,
        all: &["Error creating Olm session", "InvalidSignature"],
        any: &[],
        none: &[],
        extract: X::ToDevice,
    },
    // The same, where the error is rendered with its Display text (matrix-sdk-crypto error.rs `SessionCreationError::InvalidSignature`)
    Signature {
        id: "ke2.peer_unreachable_text",
        class: Ke2,
        severity: Failure,
        all: &["verify the signature of a one-time key"],
        any: &[],
        none: &[],
        extract: X::ToDevice,
    },
    // A peer device uploaded a new identity under its old device id (KE-1 on that device); this client keeps the old one
    Signature {
        id: "ke1.peer_identity_refused",
        class: Ke1,
        severity: Info,
        all: &["Rejecting device update"],
        any: &["SigningKeyChanged"],
        none: &[],
        extract: X::ToDevice,
    },
    // matrix-js-sdk 37 (room-event key transport): sending our call key failed, retrying
    Signature {
        id: "ke2.room_key_transport_retry",
        class: Ke2,
        severity: Failure,
        all: &["Failed to send m.call.encryption_key"],
        any: &[],
        none: &[],
        extract: X::None,
    },
    // An encrypted event has no `algorithm` in its content (malformed event or deserialisation bug)
    Signature {
        id: "ke3.missing_algorithm",
        class: Ke3,
        severity: Failure,
        all: &["rror decrypting event", "missing field "],
        any: &["`algorithm`", "'algorithm'", "\"algorithm\""],
        none: &[],
        extract: X::Decryption,
    },
    // Another decryption failure (missing room key, unknown index, …): common and not KE-3
    Signature {
        id: "decrypt.other",
        class: Other,
        severity: Info,
        all: &["rror decrypting event"],
        any: &[],
        none: &[],
        extract: X::Decryption,
    },
    // The placeholder body matrix-js-sdk 37..43 gives an event it cannot decrypt (`** Unable to decrypt: … **`)
    Signature {
        id: "decrypt.placeholder",
        class: Other,
        severity: Info,
        all: &["** Unable to decrypt: "],
        any: &[],
        none: &[],
        extract: X::None,
    },
    // matrix-js-sdk 42.4..43: a delayed-event call outlived the local timeout; retried at once, no longer counted toward the maximum
    Signature {
        id: "ke4.local_timeout_retry_uncounted",
        class: Ke4,
        severity: Failure,
        all: &["Network local timeout error while sending event, immediate retry"],
        any: &[],
        none: &["(("],
        extract: X::Retry,
    },
    // MatrixRTC membership (matrix-js-sdk 37.5..42.3, Element Call 0.20..0.24): the homeserver did not answer a delayed-event call within the local timeout
    Signature {
        id: "ke4.local_timeout_retry",
        class: Ke4,
        severity: Failure,
        all: &["Network local timeout error while sending event"],
        any: &[],
        none: &[],
        extract: X::Retry,
    },
    // MatrixRTC membership through a widget host (matrix-js-sdk 37.5..43): updating the delayed event timed out, retrying
    Signature {
        id: "ke4.delayed_update_retry",
        class: Ke4,
        severity: Failure,
        all: &["delayed event update timeout error, retrying in"],
        any: &[],
        none: &[],
        extract: X::Retry,
    },
    // MatrixRTC membership (matrix-js-sdk 37.13..43): the network failed while sending a membership event, retrying
    Signature {
        id: "ke4.connection_error_retry",
        class: Ke4,
        severity: Failure,
        all: &["Network connection error while sending event, retrying in"],
        any: &[],
        none: &[],
        extract: X::Retry,
    },
    // MatrixRTC membership (matrix-js-sdk 37.13..43): the homeserver answered 5xx to a membership event, retrying
    Signature {
        id: "ke4.server_error_retry",
        class: Ke4,
        severity: Failure,
        all: &["Server error while sending event, retrying in"],
        any: &[],
        none: &[],
        extract: X::Retry,
    },
    // MatrixRTC membership, matrix-js-sdk 37's legacy membership manager: sending the call member event failed, retrying
    Signature {
        id: "ke4.member_event_retry",
        class: Ke4,
        severity: Failure,
        all: &["Failed to send call member event (retrying in"],
        any: &[],
        none: &[],
        extract: X::None,
    },
    // MatrixRTC membership gave up (matrix-js-sdk 37.5..43): the call membership is lost
    Signature {
        id: "ke4.unrecoverable",
        class: Ke4,
        severity: Failure,
        all: &["MembershipManager encountered an unrecoverable error"],
        any: &[],
        none: &[],
        extract: X::None,
    },
    // MatrixRTC membership gave up after its maximum retries
    Signature {
        id: "ke4.max_retries",
        class: Ke4,
        severity: Failure,
        all: &["Reached maximum (", "retries cause by"],
        any: &[],
        none: &[],
        extract: X::MaxRetries,
    },
    // Restarting the membership's delayed event timed out before the homeserver responded
    Signature {
        id: "ke4.restart_timed_out",
        class: Ke4,
        severity: Failure,
        all: &["Restart delayed event timed out"],
        any: &[],
        none: &[],
        extract: X::None,
    },
    // The widget host (Element Call iframe) failed to update a delayed event
    Signature {
        id: "ke4.widget_update_failed",
        class: Ke4,
        severity: Failure,
        all: &["error updating delayed event"],
        any: &[],
        none: &[],
        extract: X::None,
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
