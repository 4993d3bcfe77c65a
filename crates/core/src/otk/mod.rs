//! One-time keys: Synapse's conflict text, key ids, the upload loop (KE-1), the one-time-key flood.
pub mod breaker;
pub mod conflict;
pub mod flood;
pub mod health;
pub mod key_id;
pub mod python_repr;
pub mod upload;
