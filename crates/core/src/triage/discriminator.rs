//! The KE-2 discriminator (question id `6.4`): KE-2 while Q1 = no and the device still has
//! one-time keys is not KE-1's consequence; suspect the to-device validation path between the
//! call client and rust crypto instead.

use super::model::{Answer, Evidence, Question};
use super::{quote, Inputs};
use serde_json::json;

const QUESTION: &str = "Does KE-2 occur while one-time-key counts are healthy and no KE-1 storm is present (Q1 = no)?";

/// The discriminator, after Q1.
pub fn ask(i: &Inputs, q1: Answer) -> Question {
    let mut q = Question::new("6.4", QUESTION);
    let Some(first) = i.report.ke2_missing.first() else {
        q.finding = "no KE-2 in the report: the discriminator does not apply".into();
        q.details = json!({"applicable": false});
        return q;
    };
    q.evidence.push(Evidence::new(&first.source, quote(&first.message)));
    let otks = i.db.and_then(|d| Some((d.source.as_str(), d.otks.as_deref()?)));
    let otk_count = otks.map(|(_, rows)| rows.iter().filter(|o| o.algorithm == "signed_curve25519").count());
    if let (Some((db, _)), Some(n)) = (otks, otk_count) {
        q.evidence.push(Evidence::new(format!("{db} e2e_one_time_keys_json"), format!("signed_curve25519 count: {n}")));
    }
    q.details = json!({"applicable": true, "q1": q1.as_str(), "otkCount": otk_count});
    match (q1, otk_count) {
        (Answer::Yes, _) => q.answer(Answer::No, "KE-2 co-occurs with the KE-1 storm: the KE-1 ⇒ KE-2 chain stands"),
        (Answer::No, Some(n)) if n > 0 => q.answer(
            Answer::Yes,
            "KE-2 without KE-1 and with healthy OTK counts: suspect crypto-wasm 18.3.x to-device validation (EC ↔ rust-crypto), not KE-1",
        ),
        (Answer::No, _) => {
            q.finding = "Q1 = no, but the OTK count is not known (or 0)".into();
            q.to_settle.push("--synapse-db: the device's one-time-key count".into());
        }
        (Answer::Unknown, _) => {
            q.finding = "Q1 is unknown, so the discriminator cannot be applied".into();
            q.to_settle.push("settle Q1 first".into());
        }
    }
    q
}
