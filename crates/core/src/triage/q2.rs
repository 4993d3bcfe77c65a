//! Q2 (KE-2): are the call's media keys (`io.element.call.encryption_keys` to-device events)
//! delivered to our device, and do they decrypt? Delivered and decrypted while media keys are
//! still missing: not KE-1. Queued but unopenable while KE-1 holds: the KE-1 ⇒ KE-2 chain.
//! Never sent to the device: device targeting (stale device list or membership).
//! Delivered but encrypted for the identity the device lost (the report's
//! `call_keys_undecryptable`) while Q1 = yes: the KE-1 ⇒ KE-2 link, confirmed against the
//! device keys the server advertises now. A peer this device cannot reach (`peer_unreachable`)
//! is evidence about that other device, named as such.

use super::facts::{PeerDevice, Undecryptable, UnreachablePeer};
use super::identity::{advertised, check_otks, describe};
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
    let server_key = r.undecryptable.as_ref().and_then(|u| undecryptable_evidence(&mut q, i, u));
    for p in &r.unreachable {
        unreachable_evidence(&mut q, i, p);
    }
    q.details = json!({"missingKeyLines": r.ke2_missing.len(), "deliveredLines": d.delivered, "inboxCallKeys": d.queued, "inboxEncrypted": d.queued_encrypted, "missingKeysFor": r.call_missing,
        "undecryptable": r.undecryptable.as_ref().map(|u| json!({"peers": u.peers.iter().map(|p| json!({"userId": p.user_id, "events": p.events})).collect::<Vec<_>>(), "encryptedFor": u.lost_keys(), "currentCurve25519": u.current_curve25519, "serverCurve25519": server_key})),
        "unreachablePeers": r.unreachable.iter().map(|p| json!({"userId": p.user_id, "deviceId": p.device_id})).collect::<Vec<_>>()});
    let undecryptable = r.undecryptable.as_ref().filter(|u| !u.peers.is_empty());
    if !r.call_missing.is_empty() {
        never_delivered_to_call(&mut q, &r.call_missing);
    } else if let Some(u) = undecryptable {
        delivered_undecryptable(&mut q, u, q1, i.db.is_some());
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
        no_delivery_evidence(&mut q, &d, !r.ke2_missing.is_empty() || !r.unreachable.is_empty());
    }
    if !r.unreachable.is_empty() {
        name_unreachable(&mut q, &r.unreachable);
    }
    q
}

/// `@user (DEVICE)`.
fn device_name(user: &str, device: Option<&str>) -> String {
    match device {
        Some(d) => format!("{user} ({d})"),
        None => user.to_string(),
    }
}

/// Quotes the report's `call_keys_undecryptable` and what the server advertises for the device
/// now; returns the server's curve25519 key for the device, when read.
fn undecryptable_evidence(q: &mut Question, i: &Inputs, u: &Undecryptable) -> Option<String> {
    let lost = u.lost_keys();
    let peers: Vec<String> =
        u.peers.iter().map(|p| format!("{} ({} event(s), msgid {})", p.user_id, p.events, list_or_none(&p.msgids))).collect();
    q.evidence.push(Evidence::new(
        &u.source,
        format!(
            "to-device m.room.encrypted from {} encrypted for curve25519 {}, not for this device's current key {}",
            peers.join(", "),
            list_or_none(&lost),
            u.current_curve25519.as_deref().unwrap_or("(unknown)")
        ),
    ));
    let mut ke1 = Vec::new();
    if u.identity_replaced == Some(true) {
        ke1.push("the page saw this device's identity replaced under the same device id".to_string());
    }
    if u.encrypted_for_previous == Some(true) {
        ke1.push("the peers encrypted for the previous identity".into());
    }
    if let Some(k) = &u.otk_conflict_key_id {
        ke1.push(format!("one-time-key conflict on {k}"));
    }
    if !ke1.is_empty() {
        q.evidence.push(Evidence::new(format!("{} evidence.ke1", u.source), ke1.join("; ")));
    }
    let (user, device) = i.device()?;
    let (db, keys) = i.db_table(|d| d.device_keys.as_ref())?;
    let Some(keys) = keys else {
        q.evidence.push(Evidence::new(format!("{db} e2e_device_keys_json"), format!("no device keys for {device}: the device is gone")));
        return None;
    };
    let ad = advertised(keys, device);
    let curve = ad.curve25519.clone()?;
    let text = if lost.contains(&curve) {
        format!("the server still advertises curve25519:{device} = {curve}, the key the peers encrypted for: the device lost its private key with its store")
    } else {
        let now = if u.current_curve25519.as_deref() == Some(curve.as_str()) { " (the report's current identity)" } else { "" };
        format!("the server advertises curve25519:{device} = {curve}{now}, not {}, the key the peers encrypted for: the identity was replaced under the same device id and the peers still hold the lost one", list_or_none(&lost))
    };
    q.evidence.push(Evidence::new(format!("{db} e2e_device_keys_json"), text));
    if let (Some(ed), Some((db, rows))) = (ad.ed25519.as_deref(), i.db_table(|d| d.otks.as_deref())) {
        if let Some(c) = check_otks(rows, (user, device), ed, i.signatures) {
            q.evidence.push(Evidence::new(format!("{db} e2e_one_time_keys_json"), describe(&c, ed)));
        }
    }
    Some(curve)
}

/// Quotes a `peer_unreachable` finding and what the server holds for that device: evidence about
/// the other device, not the subject.
fn unreachable_evidence(q: &mut Question, i: &Inputs, p: &UnreachablePeer) {
    let name = device_name(&p.user_id, p.device_id.as_deref());
    q.evidence.push(Evidence::new(
        &p.source,
        format!("this device could not build an Olm session to {name} ({} SDK line(s)): evidence about that other device, not this one — our call keys never reach it", p.lines),
    ));
    let Some(db) = i.db else { return };
    let Some(row) = p.device_id.as_deref().and_then(|d| db.peers.iter().find(|x: &&PeerDevice| x.user_id == p.user_id && x.device_id == d))
    else {
        return;
    };
    let src = |t: &str| format!("{} {t} ({name})", db.source);
    let Some(keys) = &row.device_keys else {
        q.evidence.push(Evidence::new(src("e2e_device_keys_json"), "no device keys: the device is gone or never uploaded keys"));
        return;
    };
    let ad = advertised(keys, &row.device_id);
    q.evidence.push(Evidence::new(
        src("e2e_device_keys_json"),
        format!(
            "advertises curve25519 {}, ed25519 {}",
            ad.curve25519.as_deref().unwrap_or("(none)"),
            ad.ed25519.as_deref().unwrap_or("(none)")
        ),
    ));
    if let (Some(ed), Some(rows)) = (ad.ed25519.as_deref(), row.otks.as_deref()) {
        let text = match check_otks(rows, (&row.user_id, &row.device_id), ed, i.signatures) {
            Some(c) => describe(&c, ed),
            None => "no signed_curve25519 one-time key to check (a peer falls back to the fallback key)".into(),
        };
        q.evidence.push(Evidence::new(src("e2e_one_time_keys_json"), text));
    }
}

/// Names the unreachable devices in the finding, and how to triage them.
fn name_unreachable(q: &mut Question, peers: &[UnreachablePeer]) {
    let names: Vec<String> = peers.iter().map(|p| device_name(&p.user_id, p.device_id.as_deref())).collect();
    let sep = if q.finding.is_empty() { "" } else { "; " };
    q.finding = format!(
        "{}{sep}this device cannot reach {}: evidence about that other device (KE-1 there: its one-time keys were signed by an identity it lost), which gets none of our call keys",
        q.finding,
        names.join(", ")
    );
    for p in peers {
        q.to_settle.push(match &p.device_id {
            Some(d) => format!("triage the other device: its own report, or --user {} --device {d} with --synapse-db", p.user_id),
            None => format!("triage {}'s device that this one cannot reach (its device id is not in the report)", p.user_id),
        });
    }
}

/// The report's peers' keys reached the device, encrypted for a key it lost.
fn delivered_undecryptable(q: &mut Question, u: &Undecryptable, q1: Answer, with_db: bool) {
    let who: Vec<&str> = u.peers.iter().map(|p| p.user_id.as_str()).collect();
    let events: u64 = u.peers.iter().map(|p| p.events).sum();
    let lost = list_or_none(&u.lost_keys());
    if q1 == Answer::Yes {
        q.answer(Answer::Yes, format!(
            "call keys are delivered but undecryptable: {events} to-device message(s) from {} were encrypted for curve25519 {lost}, the identity this device lost, while KE-1 holds (Q1 = yes): KE-1 ⇒ KE-2 link confirmed",
            who.join(", ")
        ));
        if !with_db {
            q.to_settle.push("--synapse-db: the device keys the server advertises for the device now (e2e_device_keys_json)".into());
        }
    } else {
        q.answer(Answer::Unknown, format!(
            "call keys from {} arrive encrypted for curve25519 {lost}, a key this device no longer has, but Q1 = {}: KE-1 is not confirmed, so the chain to it is not established",
            who.join(", "),
            q1.as_str()
        ));
        q.to_settle.push("settle Q1: --synapse-db with the device (its one-time keys) or a report with the one-time-key conflict".into());
    }
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
