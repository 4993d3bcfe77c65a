//! One-time keys (KE-1): Synapse's conflict text, key ids, the upload loop.
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod breaker;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod conflict;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod health;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod key_id;
pub mod python_repr;
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod upload;
