//! One conclusion per KE class, from the answered questions.

use super::facts::ReportFacts;
use super::forensics::{Forensics, Verdict};
use super::model::{Answer, Conclusion, Question};
use super::proof::Proof;
use super::Answers;
use serde_json::Value;

/// KE-1..KE-4, in that order.
pub fn all(r: &ReportFacts, a: &Answers, f: Option<&Forensics>, p: Option<&Proof>) -> Vec<Conclusion> {
    vec![ke1(r, a, f, p), ke2(r, a), ke3(&a.q3), ke4(&a.q4)]
}

fn ke1(r: &ReportFacts, a: &Answers, f: Option<&Forensics>, p: Option<&Proof>) -> Conclusion {
    let q1 = &a.q1;
    match q1.answer {
        Answer::Yes => Conclusion { ke: "KE-1", status: "confirmed", summary: format!("{} — {}", q1.finding, ke1_cause(r, f, p)) },
        Answer::No if a.exhaustion == Answer::Yes => {
            Conclusion { ke: "KE-1", status: "excluded", summary: "not a divergence: one-time keys are exhausted (fallback used)".into() }
        }
        Answer::No => Conclusion { ke: "KE-1", status: "excluded", summary: q1.finding.clone() },
        Answer::Unknown => Conclusion { ke: "KE-1", status: "unknown", summary: q1.finding.clone() },
    }
}

/// The cause of a confirmed KE-1: the forensics, else the client's detector, else the report's
/// eviction finding, else the key counter alone.
fn ke1_cause(r: &ReportFacts, f: Option<&Forensics>, p: Option<&Proof>) -> String {
    let trigger = r.otk_health.as_ref().and_then(|o| o.get("trigger"));
    match f.map(|f| &f.verdict) {
        Some(Verdict::PreviousIdentity) => return "cause: the server's key was signed by a previous identity — the device's crypto store was reset or evicted while its session survived".into(),
        Some(Verdict::ConcurrentWriter) => return "cause: the server's key was signed by the current identity — a concurrent writer (two tabs/clients on one store)".into(),
        _ => {}
    }
    if trigger.and_then(|t| t.get("kind")?.as_str()).is_some_and(|k| k != "unknown") {
        return format!("cause per the client's detector (otkHealth.trigger): {}", trigger.map(Value::to_string).unwrap_or_default());
    }
    if r.findings.iter().any(|(id, _)| id == "crypto_store_missing") {
        return "cause: the report saw the crypto store missing for a live session (eviction)".into();
    }
    match p.and_then(|p| p.conflict.counter) {
        Some(c) if c < 100 => format!("cause (from the key counter {c} alone): a re-created account under the old device id"),
        _ => "cause not established (no identity keys to check the signatures against)".into(),
    }
}

fn ke2(r: &ReportFacts, a: &Answers) -> Conclusion {
    let (q1, q2) = (&a.q1, &a.q2);
    // KE-2 on this device: missing media keys, or call keys it cannot open.
    let own = !r.ke2_missing.is_empty() || r.undecryptable.as_ref().is_some_and(|u| !u.peers.is_empty());
    let (status, summary) = if !own && r.unreachable.is_empty() {
        ("not_seen", "no MissingKey / key set not found line and no undecryptable call key in the report".to_string())
    } else if !own {
        ("peer_device", q2.finding.clone())
    } else if a.discriminator.answer == Answer::Yes {
        ("independent", a.discriminator.finding.clone())
    } else if q1.answer == Answer::Yes && q2.answer != Answer::Yes {
        ("linked_to_ke1", "KE-2 co-occurs with a confirmed KE-1: no fresh Olm sessions can be made with this device, so call keys sent to it cannot be opened".into())
    } else if q2.answer != Answer::Unknown {
        (ke2_status_of(q2), q2.finding.clone())
    } else {
        ("unknown", q2.finding.clone())
    };
    Conclusion { ke: "KE-2", status, summary }
}

/// Q2's finding says which way a decided Q2 points.
fn ke2_status_of(q2: &Question) -> &'static str {
    if q2.finding.contains("NOT KE-1") {
        "independent"
    } else if q2.finding.contains("link") {
        "linked_to_ke1"
    } else {
        "device_targeting"
    }
}

fn applicable(q: &Question) -> Option<bool> {
    q.details.get("applicable").and_then(Value::as_bool)
}

fn ke3(q3: &Question) -> Conclusion {
    let status = match (applicable(q3), q3.answer) {
        (Some(false), _) => "not_seen",
        (_, Answer::Yes) => "data_problem",
        (_, Answer::No) => "client_problem",
        _ => "unknown",
    };
    Conclusion { ke: "KE-3", status, summary: q3.finding.clone() }
}

fn ke4(q4: &Question) -> Conclusion {
    let no_timeouts = q4.details.get("timeouts").and_then(Value::as_u64) == Some(0);
    let status = match (applicable(q4), q4.answer) {
        (Some(false), _) => "not_seen",
        _ if no_timeouts => "not_seen",
        (_, Answer::Yes) => "homeserver_latency",
        (_, Answer::No) => "client_retry",
        _ => "unknown",
    };
    Conclusion { ke: "KE-4", status, summary: q4.finding.clone() }
}
