//! Q1: is the one-time key the 400 names stored on the server with a different value than the
//! client uploads (divergence, KE-1's root condition)? If not: are the device's one-time keys
//! exhausted (fallback used)? If not either, while uploads fail: suspect the SDK's upload loop.

use super::facts::OtkRow;
use super::model::{Answer, Evidence, Question};
use super::proof::Proof;
use super::{quote, Inputs};
use crate::otk::conflict::keys_differ;
use serde_json::{json, Value};

const QUESTION: &str =
    "Does the KE-1 offending key_id from the 400 exist in e2e_one_time_keys_json with a DIFFERENT value than the client request body?";

/// Q1 and its exhaustion sub-check.
pub fn ask(i: &Inputs, proof: Option<&Proof>) -> (Question, Answer) {
    let mut q = Question::new("Q1", QUESTION);
    match proof {
        Some(p) => divergence(&mut q, i, p),
        None => without_conflict(&mut q, i),
    }
    let exhaustion = exhaustion(&mut q, i);
    if let Value::Object(m) = &mut q.details {
        m.insert("exhaustion".into(), exhaustion.as_str().into());
    }
    if q.answer == Answer::No {
        exhaustion_or_sdk_loop(&mut q, exhaustion, proof.is_some() || i.report.upload_400s > 0);
    }
    if i.device().is_none() && i.db.is_some() {
        q.to_settle.push("the report has no session user/device: pass --user and --device to query the database".into());
    }
    (q, exhaustion)
}

/// Q1 = no: exhaustion instead, or (keys left while uploads failed) the SDK's upload loop.
fn exhaustion_or_sdk_loop(q: &mut Question, exhaustion: Answer, uploads_failed: bool) {
    match exhaustion {
        Answer::Yes => q.finding.push_str("; OTK EXHAUSTION instead (0 one-time keys, fallback key used): a different remediation"),
        Answer::No if uploads_failed => q.finding.push_str(
            "; OTKs are not exhausted: suspect the SDK's upload-loop behaviour (the client keeps re-uploading keys the server refuses)",
        ),
        _ => {}
    }
}

/// A conflict text names the key: compare with the stored row, else trust Synapse's own 400.
fn divergence(q: &mut Question, i: &Inputs, p: &Proof) {
    let c = &p.conflict;
    q.evidence.push(Evidence::new(&p.source, quote(&p.quote)));
    q.details =
        json!({"keyId": c.key_id, "algorithm": c.algorithm, "counter": c.counter, "divergedPer400": c.diverged, "proofSource": p.source});
    let Some((db, rows)) = i.db_table(|d| d.otks.as_deref()) else { return synapse_400_says(q, i, p) };
    let table = format!("{db} e2e_one_time_keys_json");
    match rows.iter().find(|o| o.algorithm == c.algorithm && o.key_id == c.key_id) {
        Some(row) => stored_row_differs(q, p, &table, row),
        None => {
            let (full, (user, device)) = (p.full_id(), i.device().unwrap_or(("?", "?")));
            q.evidence.push(Evidence::new(table, format!("{} one-time keys for {user} {device}, none with id {full}", rows.len())));
            q.answer(
                Answer::No,
                format!("{full} is no longer on the server (claimed or deleted since the 400): not a standing divergence"),
            );
        }
    }
}

fn stored_row_differs(q: &mut Question, p: &Proof, db: &str, row: &OtkRow) {
    let full = p.full_id();
    q.evidence
        .push(Evidence::new(db, format!("{full} stored at ts_added_ms={} : {}", row.ts_added_ms.unwrap_or(-1), quote(&row.key_json))));
    let stored: Option<Value> = serde_json::from_str(&row.key_json).ok();
    match (&stored, &p.conflict.new_key) {
        (Some(st), Some(new)) if keys_differ(st, new) => q.answer(Answer::Yes, format!("OTK divergence CONFIRMED for {full}: the server holds a different key than the client keeps uploading (KE-1 root condition)")),
        (Some(_), Some(_)) => q.answer(Answer::No, format!("the server holds the same value for {full} as the client sends: no divergence now (a re-upload would be accepted)")),
        _ => {
            // Synapse only answers "already exists" when the values differ.
            q.answer(Answer::Yes, format!("{full} is on the server and Synapse rejected the client's upload of it, which it does only for a different value: divergence confirmed"));
            q.to_settle.push("the client's request body for keys/upload (the 400 text was cut before the new key) would show the value itself".into());
        }
    }
}

/// No stored row to compare: Synapse's 400 quotes its stored value, as of that response.
fn synapse_400_says(q: &mut Question, i: &Inputs, p: &Proof) {
    let full = p.full_id();
    match p.conflict.diverged {
        Some(true) => {
            q.answer(Answer::Yes, format!("Synapse's own 400 quotes its stored value for {full}, which differs from the client's (signatures aside): divergence confirmed as of that response"));
            q.to_settle.push(if i.db.is_none() {
                "--synapse-db: confirm the server still holds the key (SELECT … FROM e2e_one_time_keys_json)".into()
            } else {
                "the user and device (--user/--device): the database could not be queried without them".into()
            });
        }
        Some(false) => q.answer(Answer::No, format!("the 400 for {full} quotes the same key value as the client sent: not a divergence")),
        None => {
            q.answer(Answer::Unknown, format!("the 400 for {full} was cut before both keys could be read, and no database was consulted"));
            q.to_settle.push("--synapse-db with the report's user and device: is the key id stored with a different value?".into());
            q.to_settle.push("--synapse-log: Synapse logs the full conflict text (SynapseError: 400 - One time key …)".into());
        }
    }
}

/// No conflict text anywhere: `no` only on positive evidence that uploads were accepted.
fn without_conflict(q: &mut Question, i: &Inputs) {
    let accepted = uploads_accepted(q, i);
    let r = i.report;
    let har_400 = i.har.and_then(|h| h.uploads.iter().find(|u| u.call.status == 400));
    if let Some(u) = har_400 {
        q.evidence.push(Evidence::new(u.call.source(), u.call.describe()));
    }
    if r.upload_400s > 0 || r.tap_conflicts().unwrap_or(0) > 0 || har_400.is_some() {
        q.evidence.push(Evidence::new("report", format!("{} keys/upload 400 line(s) without the conflict text", r.upload_400s)));
        q.answer(Answer::Unknown, "keys/upload failed, but no conflict text names a key id");
        q.to_settle.push("--synapse-log for the same window: Synapse logs the conflict text with the key id".into());
    } else if !accepted.is_empty() {
        q.evidence.extend(accepted);
        q.answer(Answer::No, "no one-time-key conflict: uploads for this device were accepted");
    } else if r.capture_installed && r.count("KE-1") == Some((0, 0)) {
        q.evidence
            .push(Evidence::new("report counts[\"KE-1\"]", format!("console tap installed, {} lines seen, 0 KE-1 lines", r.lines_seen)));
        q.answer(Answer::No, "no KE-1 line was captured");
        q.to_settle.push(
            "if the app disables the SDK logger (production Cinny does), only the HTTP tap (otkHealth) or --synapse-log can show KE-1"
                .into(),
        );
    } else {
        q.answer(Answer::Unknown, "the report has no KE-1 evidence either way (no conflict, no KE-1 count from an installed capture)");
        q.to_settle.push("a report with otkHealth (HTTP tap) or --synapse-log covering the window".into());
    }
}

/// Evidence that the device's uploads were accepted (log, HAR, HTTP tap). A 400 the log saw is
/// quoted on `q` at once.
fn uploads_accepted(q: &mut Question, i: &Inputs) -> Vec<Evidence> {
    let mut accepted = Vec::new();
    if let (Some(log), Some(u)) = (i.log, i.subject.user.as_deref()) {
        if let Some(ups) = log.uploads_of(u) {
            if let Some(a) = &ups.first_400 {
                q.evidence.push(Evidence::new(log.source(a.loc), quote(&a.quote)));
            }
            if let (0, Some(a)) = (ups.rejected_400, &ups.last) {
                accepted.push(Evidence::new(
                    log.source(a.loc),
                    format!("{} keys/upload requests by {u}, none answered 400; last: {}", ups.total, quote(&a.quote)),
                ));
            }
        }
    }
    if let Some(h) = i.har {
        let ok = h.uploads.iter().filter(|u| (200..300).contains(&u.call.status)).count();
        if let Some(last) = h.uploads.last().filter(|_| ok > 0 && h.uploads.iter().all(|u| u.call.status != 400)) {
            accepted.push(Evidence::new(
                last.call.source(),
                format!("{ok} keys/upload calls in the HAR, none answered 400; last: {}", last.call.describe()),
            ));
        }
    }
    let r = i.report;
    if let (Some(0), Some(ok @ 1..)) = (r.tap_conflicts(), r.tap_accepted()) {
        accepted.push(Evidence::new(
            "report otkHealth",
            format!("HTTP tap: {ok} keys/upload accepted, 0 conflicts (outcome {})", r.otk_outcome().unwrap_or("?")),
        ));
    }
    accepted
}

/// The exhaustion sub-check: 0 `signed_curve25519` keys and the fallback key used.
fn exhaustion(q: &mut Question, i: &Inputs) -> Answer {
    let Some((db, rows)) = i.db_table(|d| d.otks.as_deref()) else { return Answer::Unknown };
    let signed = rows.iter().filter(|o| o.algorithm == "signed_curve25519").count();
    q.evidence.push(Evidence::new(format!("{db} e2e_one_time_keys_json"), format!("signed_curve25519 count for the device: {signed}")));
    let fallback = i.db.and_then(|d| d.fallback.as_deref());
    if let Some(f) = fallback {
        let text = if f.is_empty() {
            "no fallback key".to_string()
        } else {
            f.iter().map(|x| format!("{}:{} used={}", x.algorithm, x.key_id, x.used)).collect::<Vec<_>>().join(", ")
        };
        q.evidence.push(Evidence::new(format!("{db} e2e_fallback_keys_json"), text));
    }
    match (signed, fallback.map(|f| f.iter().any(|x| x.used))) {
        (0, Some(true)) => Answer::Yes,
        (0, _) => Answer::Unknown,
        _ => Answer::No,
    }
}
