//! The browser's facts: crypto store presence, the multi-tab guard.
pub mod crypto_store;
pub mod tab_guard;
