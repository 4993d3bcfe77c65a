//! Q3 (KE-3): is `content.algorithm` absent from the event as the homeserver stored it? Yes: a
//! malformed event was persisted (a data problem). No: the client fails to decode a sound event
//! (a client problem). Either way independent of KE-1.

use super::facts::{DbFacts, EventRow, Sighting};
use super::model::{Answer, Evidence, Question};
use super::{quote, Inputs};
use serde_json::{json, Map, Value};

const QUESTION: &str = "KE-3: is content.algorithm NULL in event_json on the homeserver?";

/// Q3 for `--event`, else the report's first KE-3 event.
pub fn ask(i: &Inputs) -> Question {
    let mut q = Question::new("Q3", QUESTION);
    let r = i.report;
    let reported = r.ke3.iter().find_map(|x| x.fields.get("event_id").and_then(Value::as_str).map(|e| (e.to_string(), x)));
    let event = i.subject.event.clone().or_else(|| reported.as_ref().map(|(e, _)| e.clone()));
    if let Some((_, x)) = &reported {
        q.evidence.push(Evidence::new(&x.source, quote(&x.message)));
    }
    let (causes, key_problems) = utd_causes(i);
    let Some(event) = event else {
        not_applicable(&mut q, causes, key_problems);
        return q;
    };
    let room = reported.as_ref().filter(|(e, _)| *e == event).and_then(|(_, x)| room_of(x));
    q.details = json!({"applicable": true, "eventId": event, "roomId": room, "utdCauses": causes, "keyProblems": key_problems});
    if let Some(log) = i.log {
        for (n, l) in log.mentions(&event).take(2) {
            q.evidence.push(Evidence::new(log.source(*n), quote(l)));
        }
    }
    match i.db.map(|d| (d, d.event.as_ref())) {
        Some((d, Some(Some(row)))) => stored_event(&mut q, d, &event, row),
        Some((d, Some(None))) => {
            q.finding = format!("{event} is not in this database");
            q.evidence.push(Evidence::new(format!("{} event_json", d.source), format!("no row for {event}")));
            q.to_settle.push("the event's own homeserver database (the sender's server for a federated event), or the event JSON via GET /rooms/{roomId}/event/{eventId}".into());
        }
        Some((_, None)) => q.to_settle.push("a database with the event_json table".into()),
        None => q.to_settle.push("--synapse-db: the stored event's content.algorithm".into()),
    }
    q
}

fn room_of(x: &Sighting) -> Option<String> {
    x.fields.get("room_id").and_then(Value::as_str).map(String::from)
}

/// The report's UTD causes (which undecryptable events are data problems, which key problems)
/// and the number of key or trust problems.
fn utd_causes(i: &Inputs) -> (Map<String, Value>, u64) {
    let utd = i.report.utd.iter();
    let causes = utd
        .clone()
        .flat_map(|u| &u.causes)
        .filter(|(_, c)| c.count > 0)
        .map(|(k, c)| (k.clone(), json!({"count": c.count, "kind": c.kind})))
        .collect();
    let key_problems = utd.flat_map(|u| u.causes.values()).filter(|c| c.kind != "data").map(|c| c.count).sum();
    (causes, key_problems)
}

fn not_applicable(q: &mut Question, causes: Map<String, Value>, key_problems: u64) {
    q.finding = if key_problems > 0 {
        let list: Vec<String> = causes.iter().map(|(k, c)| format!("{k}: {}", c["count"])).collect();
        format!("no KE-3 event in the report and no --event: not applicable; its {key_problems} undecryptable event(s) are key or trust problems ({}), not malformed data", list.join(", "))
    } else {
        "no KE-3 event in the report and no --event: not applicable".into()
    };
    q.details = json!({"applicable": false, "utdCauses": causes, "keyProblems": key_problems});
}

fn stored_event(q: &mut Question, d: &DbFacts, event: &str, row: &EventRow) {
    let v: Option<Value> = serde_json::from_str(&row.json).ok();
    let alg = v.as_ref().and_then(|v| v.get("content")).map(|c| c.get("algorithm").cloned().unwrap_or(Value::Null));
    q.evidence.push(Evidence::new(
        format!("{} event_json", d.source),
        format!(
            "{event} type={} sender={} room={} content.algorithm={}",
            row.event_type.as_deref().unwrap_or("?"),
            row.sender.as_deref().unwrap_or("?"),
            row.room_id,
            alg.as_ref().map(|a| a.to_string()).unwrap_or_else(|| "(no content)".into())
        ),
    ));
    match alg {
        Some(Value::Null) | None => {
            q.details["roomId"] = row.room_id.clone().into();
            q.answer(Answer::Yes, format!("the stored event {event} in {} has no content.algorithm: a malformed event was persisted (sender or federation) — a data problem, not a key problem, independent of KE-1", row.room_id));
        }
        Some(_) => q.answer(
            Answer::No,
            "the stored event has its algorithm, yet the client fails to decode it: a client-side deserialisation bug, independent of KE-1",
        ),
    }
}
