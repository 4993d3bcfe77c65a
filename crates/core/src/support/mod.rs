//! Helpers with no domain of their own.
pub mod map;
pub mod text;
