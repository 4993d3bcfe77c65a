//! The page's end-to-end encryption health in one word, and each KE class's:
//! what the kit's card shows. The core decides the levels from the counts, the
//! findings and the one-time-key outcome; the kit renders them.

use crate::evidence::journal::ClassCount;
use crate::evidence::signature::Class;
use crate::otk::health::{OtkHealth, Outcome};
use crate::report::finding::{Finding, Level};
use crate::support::map::SortedMap;

/// A health level, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Broken now or about to be (KE-1, an evicted store, a diverged device).
    Critical,
    /// Something failed that the user may notice.
    Warning,
    /// Seen, but only healthy signals (a class's info lines).
    Info,
    /// Nothing wrong (the overall level only).
    Ok,
    /// Nothing seen (a class only).
    None,
}

/// One KE class as the card shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassHealth {
    /// `KE-1` .. `KE-4`.
    pub ke: Class,
    /// What the class is, in a few words.
    pub what: String,
    /// `critical` (KE-1 failures) | `warning` (other failures) | `info` (lines, no failure) | `none`.
    pub status: Status,
    /// Lines of this class, and of those the failures.
    pub count: u64,
    /// Failures among them.
    pub failures: u64,
    /// Last seen (Unix ms).
    pub last_seen: Option<u64>,
}

/// The overall level and the four classes (`getCryptoDiagHealth()`, the report's `health`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `critical` | `warning` | `ok`.
    pub status: Status,
    /// KE-1 .. KE-4, in order.
    pub classes: Vec<ClassHealth>,
}

impl Default for Health {
    fn default() -> Self {
        Health { status: Status::Ok, classes: Vec::new() }
    }
}

impl Health {
    /// Critical when a finding is, when the device diverged from the server,
    /// or on any KE-1 failure; a warning when uploads are retrying or flooding, a finding
    /// warns or any class failed; else ok.
    pub fn assess(counts: &SortedMap<ClassCount>, findings: &[Finding], otk: Option<&OtkHealth>) -> Health {
        let outcome = otk.map(|o| o.outcome);
        // Every KE class of the signature table, in order (not `other`).
        let classes: Vec<ClassHealth> = Class::ALL
            .iter()
            .filter(|ke| ke.ke().is_some())
            .map(|&ke| {
                let c = counts.get(ke.as_str()).cloned().unwrap_or_default();
                let status = match (c.failures, c.count) {
                    (1.., _) if ke == Class::Ke1 => Status::Critical,
                    (1.., _) => Status::Warning,
                    (0, 1..) => Status::Info,
                    (0, 0) => Status::None,
                };
                ClassHealth { ke, what: ke.what().into(), status, count: c.count, failures: c.failures, last_seen: c.last_seen }
            })
            .collect();
        let finding_at = |level: Level| findings.iter().any(|f| f.level == level);
        let status = if finding_at(Level::Critical)
            || matches!(outcome, Some(Outcome::Diverged | Outcome::Unrecoverable))
            || classes[0].status == Status::Critical
        {
            Status::Critical
        } else if matches!(outcome, Some(Outcome::Retrying | Outcome::Flooding))
            || finding_at(Level::Warning)
            || classes.iter().any(|c| c.failures > 0)
        {
            Status::Warning
        } else {
            Status::Ok
        };
        Health { status, classes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(ke: &str, count: u64, failures: u64) -> SortedMap<ClassCount> {
        let mut m = SortedMap::new();
        m.insert(ke.to_owned(), ClassCount { count, failures, ..ClassCount::default() });
        m
    }

    fn finding(level: Level) -> Finding {
        Finding {
            id: "x".into(),
            ke: None,
            level,
            title: String::new(),
            detail: String::new(),
            ts: 0,
            at: String::new(),
            evidence: serde_json::Value::Null,
        }
    }

    #[test]
    fn the_worst_signal_decides_the_overall_level() {
        let quiet = Health::assess(&SortedMap::new(), &[], None);
        assert_eq!(quiet.status, Status::Ok);
        assert_eq!(quiet.classes.iter().map(|c| c.ke.as_str()).collect::<Vec<_>>(), ["KE-1", "KE-2", "KE-3", "KE-4"]);
        assert!(quiet.classes.iter().all(|c| c.status == Status::None && !c.what.is_empty()));
        assert_eq!(Health::assess(&counts("KE-1", 3, 1), &[], None).status, Status::Critical);
        assert_eq!(Health::assess(&counts("KE-2", 3, 1), &[], None).status, Status::Warning);
        assert_eq!(Health::assess(&counts("KE-2", 3, 0), &[], None).status, Status::Ok, "info lines only");
        assert_eq!(Health::assess(&SortedMap::new(), &[finding(Level::Warning)], None).status, Status::Warning);
        assert_eq!(Health::assess(&SortedMap::new(), &[finding(Level::Critical)], None).status, Status::Critical);
        assert_eq!(Health::assess(&SortedMap::new(), &[finding(Level::Info)], None).status, Status::Ok);
        let mut otk = crate::otk::health::Monitor::default().snapshot();
        for (outcome, want) in [
            (Outcome::Healthy, Status::Ok),
            (Outcome::Retrying, Status::Warning),
            (Outcome::Flooding, Status::Warning),
            (Outcome::Diverged, Status::Critical),
            (Outcome::Unrecoverable, Status::Critical),
        ] {
            otk.outcome = outcome;
            assert_eq!(Health::assess(&SortedMap::new(), &[], Some(&otk)).status, want, "{outcome:?}");
        }
    }

    #[test]
    fn a_class_is_critical_only_for_ke1_failures() {
        let by = |ke: &str, count, failures| Health::assess(&counts(ke, count, failures), &[], None);
        assert_eq!(by("KE-1", 2, 2).classes[0].status, Status::Critical);
        assert_eq!(by("KE-4", 2, 2).classes[3].status, Status::Warning);
        assert_eq!(by("KE-2", 2, 0).classes[1].status, Status::Info);
        assert_eq!(by("KE-3", 0, 0).classes[2].status, Status::None);
        assert_eq!((by("KE-3", 5, 4).classes[2].count, by("KE-3", 5, 4).classes[2].failures), (5, 4));
    }
}
