//! What was seen: the KE signature table, matching, redaction, the journal.
pub mod classify;
pub mod decryption;
pub mod http;
pub mod journal;
pub mod redact;
pub mod signature;
pub mod widget;
