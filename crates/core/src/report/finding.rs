//! Findings: conclusions drawn from observations, each with its evidence.

use crate::evidence::signature::Class;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Critical,
    Warning,
    Info,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable id, e.g. `crypto_store_missing`; one finding per id is kept.
    pub id: String,
    /// The KE class this predicts or explains, if any.
    pub ke: Option<Class>,
    pub level: Level,
    pub title: String,
    pub detail: String,
    pub ts: u64,
    pub at: String,
    /// Machine-readable facts that led here.
    pub evidence: Value,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Critical => "critical",
            Level::Warning => "warning",
            Level::Info => "info",
        }
    }
}
