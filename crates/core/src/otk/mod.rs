//! One-time keys: Synapse's conflict text, key ids, the upload loop (KE-1), the one-time-key flood.
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod breaker;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod conflict;
pub mod flood;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod health;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod key_id;
pub mod python_repr;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod upload;
