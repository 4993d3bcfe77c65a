//! What triage answers, in one serialisable shape (docs/TRIAGE.md documents it).

use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    Unknown,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::No => "no",
            Answer::Unknown => "unknown",
        }
    }
}

/// One quoted fact and where it came from (`report entries[3]`, `homeserver.log:216`, `db e2e_one_time_keys_json`).
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    pub source: String,
    pub text: String,
}

impl Evidence {
    pub fn new(source: impl Into<String>, text: impl Into<String>) -> Self {
        Evidence { source: source.into(), text: text.into() }
    }
    pub fn to_json(&self) -> Value {
        json!({"source": self.source, "text": self.text})
    }
}

#[derive(Clone, Debug)]
pub struct Question {
    pub id: &'static str,
    pub question: &'static str,
    pub answer: Answer,
    /// The runbook branch the answer leads to, in words.
    pub finding: String,
    pub evidence: Vec<Evidence>,
    /// For an unknown (or a weak answer): what would settle it.
    pub to_settle: Vec<String>,
    /// Question-specific facts for machines (e.g. Q1: keyId, exhaustion).
    pub details: Value,
}

impl Question {
    pub fn new(id: &'static str, question: &'static str) -> Self {
        Question {
            id,
            question,
            answer: Answer::Unknown,
            finding: String::new(),
            evidence: Vec::new(),
            to_settle: Vec::new(),
            details: json!({}),
        }
    }
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "question": self.question,
            "answer": self.answer.as_str(),
            "finding": self.finding,
            "evidence": self.evidence.iter().map(Evidence::to_json).collect::<Vec<_>>(),
            "toSettle": self.to_settle,
            "details": self.details,
        })
    }
}

/// The verdict for one KE class.
#[derive(Clone, Debug)]
pub struct Conclusion {
    pub ke: &'static str,
    /// `confirmed`, `excluded`, `not_seen`, `unknown`, or a class-specific word (`linked_to_ke1`, …).
    pub status: &'static str,
    pub summary: String,
}

impl Conclusion {
    pub fn to_json(&self) -> Value {
        json!({"ke": self.ke, "status": self.status, "summary": self.summary})
    }
}

/// A remediation from the runbook's §3, least destructive first.
#[derive(Clone, Debug)]
pub struct Remediation {
    pub rank: u8,
    pub id: &'static str,
    pub title: &'static str,
    pub blast_radius: &'static str,
    /// Whether the evidence makes this step relevant now.
    pub applies: bool,
    /// The first applicable step that is safe to take (at most one is marked).
    pub first_safe: bool,
    pub why: String,
    pub steps: Vec<&'static str>,
    /// Preconditions that must hold before the step (never empty for the row surgery).
    pub guardrails: Vec<&'static str>,
}

impl Remediation {
    pub fn to_json(&self) -> Value {
        json!({
            "rank": self.rank, "id": self.id, "title": self.title, "blastRadius": self.blast_radius,
            "applies": self.applies, "firstSafe": self.first_safe, "why": self.why,
            "steps": self.steps, "guardrails": self.guardrails,
        })
    }
}
