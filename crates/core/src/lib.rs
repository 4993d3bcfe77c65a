//! crypto-health core: everything that decides, with no browser in sight.
//!
//! - [`signature`]: the KE signature table (data).
//! - [`classify`]: matching and field extraction.
//! - [`otk_conflict`], [`pyrepr`], [`key_id`]: the KE-1 proof from Synapse's 400.
//! - [`keys_upload`], [`otk_health`], [`storm_breaker`]: the KE-1 loop over HTTP:
//!   what was sent and answered, the per-device detector, the opt-in breaker.
//! - [`http_stats`], [`ingest`]: watched endpoints; where console lines and HTTP
//!   exchanges enter.
//! - [`redact`]: secrets out before anything is stored.
//! - [`journal`]: bounded ring buffer + counts.
//! - [`consistency`]: session vs crypto store.
//! - [`report`]: the schema-versioned report model.
//! - [`tab_guard`]: the multi-tab guard's report section and finding.
//!
//! `no_std` + `alloc`: the wasm bundle then carries no std (panic formatting,
//! `thread_local!`, I/O). `std` is linked only for the tests and with `serde`
//! (serde_json needs it).

#![no_std]

extern crate alloc;
#[cfg(any(test, feature = "serde"))]
extern crate std;

/// What std's prelude would bring: the `alloc` types and macros the modules use.
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::String;
    pub use alloc::vec;
    pub use alloc::vec::Vec;
    // Text is built with `cat!` and `dec`, not `format!` / `to_string()`: the
    // wasm bundle then carries no `core::fmt`. Those two are only at hand
    // where std is linked anyway (the tests, serde).
    pub use crate::cat;
    pub use crate::support::text::dec;
    #[cfg(any(test, feature = "serde"))]
    pub use alloc::{format, string::ToString};
}

// Tests write expected values with serde_json's macro, in the core's own type.
#[cfg(test)]
macro_rules! json {
    ($($t:tt)+) => {
        $crate::support::json::Value::from_serde(&serde_json::json!($($t)+))
    };
}

pub mod environment;
pub mod evidence;
pub mod ingest;
pub mod otk;
pub mod report;
pub mod support;

pub use evidence::classify::{classify, prefilter, Classified};
pub use evidence::journal::{Config, Entry, Journal};
pub use report::{Context, Report, SCHEMA_VERSION};
pub use evidence::signature::{Class, Severity, Signature, SIGNATURES};
