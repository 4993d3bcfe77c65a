//! Triage: the decision tree of docs/TRIAGE.md (Q1–Q4 and the KE-2 discriminator), the KE-1
//! forensics verdict, a conclusion per KE class and the ranked remediations, from gathered
//! [`facts`]. Pure: the CLI reads the report, HAR, log and database and prints; every answer is
//! decided here. The browser build never calls it (the linker drops it).
//!
//! One file per question: [`q1`] (divergence, else exhaustion, else the SDK's upload loop),
//! [`q2`] (call keys delivered? decryptable?), [`q3`] (KE-3 algorithm absent on the server?),
//! [`q4`] (delayed-event timeouts vs homeserver latency), [`discriminator`] (KE-2 without KE-1);
//! `identity` reads what the server holds for a device's identity (Q2's database evidence).

pub mod conclusions;
pub mod discriminator;
pub mod facts;
pub mod forensics;
mod identity;
pub mod model;
pub mod proof;
pub mod q1;
pub mod q2;
pub mod q3;
pub mod q4;
pub mod remediations;

use facts::{DbFacts, Har, ReportFacts, SynapseLog};
use forensics::{Forensics, SignatureCheck, Verdict};
use model::{Answer, Conclusion, Question, Remediation};

/// Who triage is about: from the command line, else the report or HAR.
pub struct Subject {
    /// The user.
    pub user: Option<String>,
    /// The device.
    pub device: Option<String>,
    /// The KE-3 event (`--event`).
    pub event: Option<String>,
}

/// Everything triage decides on, gathered.
pub struct Inputs<'a> {
    /// The client report's facts (empty without a report).
    pub report: &'a ReportFacts,
    /// The homeserver's log.
    pub log: Option<&'a SynapseLog>,
    /// The homeserver's database.
    pub db: Option<&'a DbFacts>,
    /// A browser HAR capture.
    pub har: Option<&'a Har>,
    /// Who it is about.
    pub subject: &'a Subject,
    /// Ed25519 checks for the KE-1 forensics (the core carries no crypto library).
    pub signatures: &'a dyn SignatureCheck,
}

impl<'a> Inputs<'a> {
    /// The subject's user and device, when both are known.
    pub(crate) fn device(&self) -> Option<(&'a str, &'a str)> {
        Some((self.subject.user.as_deref()?, self.subject.device.as_deref()?))
    }
    /// What the database says for the subject's device (rows of one table), with the
    /// database's name; `None` without a database, a subject or the table.
    pub(crate) fn db_table<T: ?Sized>(&self, rows: impl Fn(&'a DbFacts) -> Option<&'a T>) -> Option<(&'a str, &'a T)> {
        self.device()?;
        let db = self.db?;
        Some((db.source.as_str(), rows(db)?))
    }
}

/// The questions, answered.
pub struct Answers {
    /// Q1: one-time-key divergence.
    pub q1: Question,
    /// Q1's exhaustion sub-check.
    pub exhaustion: Answer,
    /// Q2: call keys delivered.
    pub q2: Question,
    /// Q3: KE-3 stored algorithm.
    pub q3: Question,
    /// Q4: KE-4 latency.
    pub q4: Question,
    /// The KE-2 discriminator.
    pub discriminator: Question,
}

/// Triage's whole answer.
pub struct Triage {
    /// Q1..Q4 and the discriminator, in that order.
    pub questions: Vec<Question>,
    /// The KE-1 forensics, when a proof and an identity key were there.
    pub forensics: Option<Forensics>,
    /// One per KE class.
    pub conclusions: Vec<Conclusion>,
    /// Least destructive first.
    pub remediations: Vec<Remediation>,
    /// What would prevent a recurrence.
    pub prevention: Vec<String>,
    /// Notes on the inputs (missing tables, skipped checks).
    pub notes: Vec<String>,
}

/// Ms the Synapse log and the client clock may disagree by, and the window around a KE-4 timeout.
pub const KE4_WINDOW_BEFORE_MS: u64 = 60_000;
/// Ms after a KE-4 timeout that the log is read.
pub const KE4_WINDOW_AFTER_MS: u64 = 10_000;
/// The MatrixRTC client's local timeout for a delayed-event restart (matrix-js-sdk MembershipManager: 2000 ms).
pub const KE4_LOCAL_TIMEOUT_S: f64 = 2.0;
/// Bytes of a quoted line kept in evidence.
pub const QUOTE_MAX: usize = 400;
/// The log lines of a call key sent to devices.
pub const CALL_KEYS_SEND: &str = "sendToDevice/io.element.call.encryption_keys";

/// Walks the tree.
pub fn decide(i: &Inputs) -> Triage {
    let mut notes = missing_tables(i.db);
    let user = i.subject.user.as_deref();
    let stored = i.db_table(|d| d.otks.as_deref()).map(|(_, rows)| rows);
    let proof = proof::standing(proof::pick(i.report, i.log, user), i.report, i.log, user, stored, &mut notes);
    let (q1, exhaustion) = q1::ask(i, proof.as_ref());
    let forensics = proof.as_ref().and_then(|p| forensics::ke1(i, p, &mut notes));
    let q2 = q2::ask(i, q1.answer);
    let answers = Answers { discriminator: discriminator::ask(i, q1.answer), q2, q3: q3::ask(i), q4: q4::ask(i), exhaustion, q1 };
    let conclusions = conclusions::all(i.report, &answers, forensics.as_ref(), proof.as_ref());
    let remediations = remediations::ranked(answers.q1.answer, forensics.as_ref());
    let prevention = prevention(i.report, answers.q1.answer, forensics.as_ref());
    let Answers { q1, q2, q3, q4, discriminator, .. } = answers;
    Triage { questions: vec![q1, q2, q3, q4, discriminator], forensics, conclusions, remediations, prevention, notes }
}

fn missing_tables(db: Option<&DbFacts>) -> Vec<String> {
    let Some(db) = db else { return Vec::new() };
    db.missing
        .iter()
        .map(|t| {
            format!(
                "{}: table `{t}` is not in this database (a different Synapse version?); questions that need it stay unknown",
                db.source
            )
        })
        .collect()
}

fn prevention(r: &ReportFacts, q1: Answer, f: Option<&Forensics>) -> Vec<String> {
    let mut out = Vec::new();
    if r.persisted == Some(false) {
        out.push("storage is not persisted on this browser (storage.persisted = false): request navigator.storage.persist() at app entry (requestPersistentStorage) so the browser cannot evict the crypto store".into());
    }
    if matches!(f.map(|f| &f.verdict), Some(Verdict::ConcurrentWriter)) {
        out.push("two writers on one crypto store: enable the tab guard (acquireTabGuard: one primary tab per session)".into());
    }
    if q1 == Answer::Yes {
        out.push(
            "break the upload storm and prompt recovery on the first conflicts (installHttpTap with breakUploadStorm + onRecoveryNeeded)"
                .into(),
        );
    }
    out
}

/// The log windows Q4 reads: around each KE-4 timeout of the report and each failed or slow
/// delayed-event call of the HAR.
pub fn q4_windows(r: &ReportFacts, har: Option<&Har>) -> Vec<(u64, u64)> {
    let mut w: Vec<(u64, u64)> = r.ke4.iter().map(|x| q4::window(x.ts, x.last_ts.max(x.ts))).collect();
    if let Some(h) = har {
        for c in h.delayed.iter().filter(|c| q4::call_failed(c)) {
            if let Some(t) = c.ts {
                w.push(q4::window(t, t + c.time_ms as u64));
            }
        }
    }
    w
}

/// `s`, cut to [`QUOTE_MAX`] bytes on a char boundary, saying how much was cut.
pub fn quote(s: &str) -> String {
    if s.len() <= QUOTE_MAX {
        return s.to_string();
    }
    let cut = crate::support::text::floor_char_boundary(s, QUOTE_MAX);
    format!("{}… [{} more bytes]", &s[..cut], s.len() - cut)
}
