//! One-time keys (KE-1): Synapse's conflict text, key ids, the upload loop.
pub mod breaker;
pub mod conflict;
pub mod health;
pub mod key_id;
pub mod python_repr;
pub mod upload;
