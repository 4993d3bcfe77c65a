//! Helpers with no domain of their own.
pub mod text;
