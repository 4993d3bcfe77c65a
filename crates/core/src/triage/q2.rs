//! Q2 (KE-2): are the call's media keys (`io.element.call.encryption_keys` to-device events)
//! delivered to our device, and do they decrypt? Delivered and decrypted while media keys are
//! still missing: not KE-1. Queued but unopenable while KE-1 holds: the KE-1 ⇒ KE-2 chain.
//! Never sent to the device: device targeting (stale device list or membership).

use super::model::{Answer, Evidence, Question};
use super::{quote, Inputs, CALL_KEYS_SEND};
use serde_json::json;

const QUESTION: &str = "During the same call, are io.element.call.encryption_keys to-device events present for our device id (device_inbox / Synapse to-device logs)?";
const CALL_KEYS: &str = "io.element.call.encryption_keys";

/// Call keys as the evidence counts them.
#[derive(Default)]
struct Delivery {
    /// Call keys the client saw arrive and decrypt (console lines, widget API).
    delivered: usize,
    /// Call keys queued for the device on the server (plaintext type).
    queued: u64,
    /// Encrypted to-device messages queued (the server cannot see their type).
    queued_encrypted: u64,
    /// Whether the database's `device_inbox` was read for the device.
    inbox_read: bool,
}

/// Q2, after Q1 (a KE-1 ⇒ KE-2 link needs Q1 = yes).
pub fn ask(i: &Inputs, q1: Answer) -> Question {
    let mut q = Question::new("Q2", QUESTION);
    let d = evidence(&mut q, i);
    let r = i.report;
    q.details = json!({"missingKeyLines": r.ke2_missing.len(), "deliveredLines": d.delivered, "inboxCallKeys": d.queued, "inboxEncrypted": d.queued_encrypted, "missingKeysFor": r.call_missing});
    if !r.call_missing.is_empty() {
        never_delivered_to_call(&mut q, &r.call_missing);
    } else if d.delivered > 0 || d.queued > 0 {
        delivered(&mut q, &d, !r.ke2_missing.is_empty(), q1);
    } else if d.queued_encrypted > 0 {
        q.answer(
            Answer::Unknown,
            "encrypted to-device messages are queued for the device; the server cannot see whether they are call keys",
        );
        q.to_settle.push("the client's report: a ke2.call_key_delivered line shows call keys arriving and decrypting".into());
    } else if d.inbox_read && r.capture_installed && !r.ke2_missing.is_empty() {
        q.answer(Answer::No, "nothing is queued for the device and the client saw no call key arrive: media keys were never sent to this device id (stale device / membership, see KE-4) — weakly linked to KE-1");
        q.to_settle.push(
            "device_inbox is emptied as the device syncs: a Synapse log of the call window (sendToDevice) would show sends to the device"
                .into(),
        );
    } else {
        no_delivery_evidence(&mut q, &d, !r.ke2_missing.is_empty());
    }
    q
}

/// Quotes the KE-2 symptom and every delivery fact, and counts them.
fn evidence(q: &mut Question, i: &Inputs) -> Delivery {
    let r = i.report;
    for x in r.ke2_missing.iter().take(3) {
        q.evidence.push(Evidence::new(&x.source, quote(&x.message)));
    }
    if !r.call_delivered.is_empty() || !r.call_sent_to.is_empty() || !r.call_missing.is_empty() {
        q.evidence.push(Evidence::new(
            "report call.participants",
            format!(
                "widget API: keys delivered to the call from {}; our keys sent to {}; missing keys for {}",
                list_or_none(&r.call_delivered),
                list_or_none(&r.call_sent_to),
                list_or_none(&r.call_missing)
            ),
        ));
    }
    if let Some(x) = r.ke2_delivered.first() {
        q.evidence
            .push(Evidence::new(&x.source, format!("{} (logged after a successful decryption: the call key arrived)", quote(&x.message))));
    }
    let mut d = Delivery { delivered: r.ke2_delivered.len() + r.call_delivered.len(), ..Delivery::default() };
    let inbox = i.db.and_then(|db| Some((db.source.as_str(), db.inbox.as_deref()?))).filter(|_| i.subject.device.is_some());
    if let Some((db, types)) = inbox {
        d.inbox_read = true;
        d.queued = types.iter().filter(|(t, _)| t == CALL_KEYS).map(|(_, n)| *n).sum();
        d.queued_encrypted = types.iter().filter(|(t, _)| t == "m.room.encrypted").map(|(_, n)| *n).sum();
        let desc = if types.is_empty() {
            "no queued to-device messages".to_string()
        } else {
            types.iter().map(|(t, n)| format!("{t}: {n}")).collect::<Vec<_>>().join(", ")
        };
        let device = i.subject.device.as_deref().unwrap_or("?");
        q.evidence.push(Evidence::new(format!("{db} device_inbox"), format!("queued for {device}: {desc}")));
    }
    if let Some(log) = i.log {
        for (n, l) in log.mentions(CALL_KEYS_SEND).take(2) {
            q.evidence.push(Evidence::new(log.source(*n), quote(l)));
        }
    }
    if let Some(h) = i.har {
        let sent: Vec<_> = h.to_device.iter().filter(|(_, t, _)| t == CALL_KEYS).collect();
        if let Some((c, _, _)) = sent.first() {
            let devices: usize = sent.iter().map(|(_, _, n)| n).sum();
            q.evidence.push(Evidence::new(
                c.source(),
                format!("this client sent {CALL_KEYS} {} time(s) to {devices} device(s) in the HAR; first: {}", sent.len(), c.describe()),
            ));
        }
    }
    d
}

fn never_delivered_to_call(q: &mut Question, missing: &[String]) {
    q.answer(Answer::No, format!(
        "missing keys for participant(s) {}: in the call, yet none of their io.element.call.encryption_keys was ever delivered to the call — their client did not send to this device, or the to-device message never arrived (stale device list / membership)",
        missing.join(", ")
    ));
    q.to_settle.push("the missing participant's report (call.participants: were keys sent to this device?) or a Synapse log of the call window (sendToDevice)".into());
}

fn delivered(q: &mut Question, d: &Delivery, media_keys_missing: bool, q1: Answer) {
    let finding = if d.delivered > 0 && media_keys_missing {
        "call keys arrive and decrypt, yet media keys are missing: KE-2 is downstream of LiveKit/SFU or key-index timing, NOT KE-1 (decouple from crypto)"
    } else if media_keys_missing && q1 == Answer::Yes {
        "call keys are queued for the device while it cannot open them and KE-1 holds: KE-1 ⇒ KE-2 link"
    } else {
        "call keys reach the device"
    };
    q.answer(Answer::Yes, finding);
}

fn no_delivery_evidence(q: &mut Question, d: &Delivery, media_keys_missing: bool) {
    let finding = if media_keys_missing {
        "KE-2 lines seen, but no evidence about call-key delivery"
    } else {
        "no KE-2 symptom in the report; delivery not checked"
    };
    q.answer(Answer::Unknown, finding);
    if !d.inbox_read {
        q.to_settle.push("--synapse-db (device_inbox for the device) during or right after the call".into());
    }
    q.to_settle.push("a report captured during the call (KE-2 MissingKey / call key delivered lines)".into());
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}
