//! What was seen: the KE signature table, matching, redaction, the journal.
pub mod classify;
pub mod decryption;
pub mod http;
pub mod journal;
pub mod peer_keys;
pub mod redact;
pub mod redact_json;
pub mod signature;
pub mod sync;
pub mod widget;
