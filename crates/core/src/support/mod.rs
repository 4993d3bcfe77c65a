//! Helpers with no domain of their own.
pub mod json;
pub mod text;
pub mod vecmap;
