//! What triage answers, in one serialisable shape (docs/TRIAGE.md documents it).

use serde_json::{json, Value};

/// A question's answer: `unknown` unless evidence decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Decided yes, on quoted evidence.
    Yes,
    /// Decided no, on quoted evidence.
    No,
    /// Not decided: `to_settle` says what would.
    Unknown,
}

impl Answer {
    /// The JSON and text spelling.
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
    /// Where the fact was read.
    pub source: String,
    /// The fact, quoted or summarised.
    pub text: String,
}

impl Evidence {
    /// Evidence from `source`.
    pub fn new(source: impl Into<String>, text: impl Into<String>) -> Self {
        Evidence { source: source.into(), text: text.into() }
    }
    /// `{source, text}`.
    pub fn to_json(&self) -> Value {
        json!({"source": self.source, "text": self.text})
    }
}

/// One question of the decision tree (docs/TRIAGE.md), answered.
#[derive(Clone, Debug)]
pub struct Question {
    /// `Q1`..`Q4`, `6.4`.
    pub id: &'static str,
    /// The question, in words.
    pub question: &'static str,
    /// The answer the evidence gives.
    pub answer: Answer,
    /// The branch the answer leads to, in words.
    pub finding: String,
    /// The facts that decided it.
    pub evidence: Vec<Evidence>,
    /// For an unknown (or a weak answer): what would settle it.
    pub to_settle: Vec<String>,
    /// Question-specific facts for machines (e.g. Q1: keyId, exhaustion).
    pub details: Value,
}

impl Question {
    /// An unanswered question.
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
    /// Sets the answer and its finding.
    pub(crate) fn answer(&mut self, answer: Answer, finding: impl Into<String>) {
        self.answer = answer;
        self.finding = finding.into();
    }
    /// The `--json` shape.
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
    /// `KE-1`..`KE-4`.
    pub ke: &'static str,
    /// `confirmed`, `excluded`, `not_seen`, `unknown`, or a class-specific word (`linked_to_ke1`, …).
    pub status: &'static str,
    /// Why, in words.
    pub summary: String,
}

impl Conclusion {
    /// The `--json` shape.
    pub fn to_json(&self) -> Value {
        json!({"ke": self.ke, "status": self.status, "summary": self.summary})
    }
}

/// A remediation, least destructive first (docs/TRIAGE.md).
#[derive(Clone, Debug)]
pub struct Remediation {
    /// 1 = least destructive.
    pub rank: u8,
    /// Stable id (`device_relogin`, …).
    pub id: &'static str,
    /// Title, in words.
    pub title: &'static str,
    /// Who and what the step touches.
    pub blast_radius: &'static str,
    /// Whether the evidence makes this step relevant now.
    pub applies: bool,
    /// The first applicable step that is safe to take (at most one is marked).
    pub first_safe: bool,
    /// Why it applies or not.
    pub why: String,
    /// The steps, in order.
    pub steps: Vec<&'static str>,
    /// Preconditions that must hold before the step (never empty for the row surgery).
    pub guardrails: Vec<&'static str>,
}

impl Remediation {
    /// The `--json` shape.
    pub fn to_json(&self) -> Value {
        json!({
            "rank": self.rank, "id": self.id, "title": self.title, "blastRadius": self.blast_radius,
            "applies": self.applies, "firstSafe": self.first_safe, "why": self.why,
            "steps": self.steps, "guardrails": self.guardrails,
        })
    }
}
