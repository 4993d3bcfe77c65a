//! What was seen: the KE signature table, matching, redaction, the journal.
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod classify;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod decryption;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod http;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod journal;
pub mod peer_keys;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod redact;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod signature;
pub mod sync;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod widget;
