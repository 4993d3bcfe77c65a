//! The browser's facts: the app's session, crypto store presence, the multi-tab guard.
#[allow(missing_docs, reason = "public items that predate the lint; the module is held to it once they are documented")]
pub mod crypto_store;
pub mod session;
pub mod tab_guard;
