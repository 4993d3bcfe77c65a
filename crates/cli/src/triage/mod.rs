//! `crypto-health triage`: gathers the facts (a client report, a HAR, the Synapse log and
//! database), hands them to the core's decision tree (`crypto_health_core::triage`, written out
//! in docs/TRIAGE.md) and prints its answers. Output shape: docs/TRIAGE.md.

mod forensics;

use crate::server::{db, har, log};
use crate::Failure;
use crypto_health_core::triage::facts::{report as report_facts, DbFacts, PeerDevice, UnreachablePeer};
use crypto_health_core::triage::{self as decide, Inputs, Subject, Triage};
use crypto_health_core::Report;
use serde_json::{json, Value};
use std::io::Write;

pub(crate) use decide::CALL_KEYS_SEND;

pub(crate) const USAGE: &str = "  triage [--report FILE] [--har FILE] [--synapse-log FILE]... [--synapse-db DB]
         [--user @u:hs] [--device ID] [--event $id] [--json]
         (--report or --har; or, for the server alone, --user and --device)
                       walk the triage's Q1-Q4 and the KE-2 discriminator from a report
                       and/or a HAR capture (plus the server's logs, rotated or gzipped,
                       and its read-only database: a SQLite path or a PostgreSQL URL /
                       key=value string), print answers with evidence, conclusions per
                       KE class and ranked remediations";

struct Args {
    report: Option<String>,
    har: Option<String>,
    logs: Vec<String>,
    db: Option<String>,
    user: Option<String>,
    device: Option<String>,
    event: Option<String>,
    json: bool,
}

fn parse_args(args: &[String]) -> Result<Args, Failure> {
    let mut a = Args { report: None, har: None, logs: Vec::new(), db: None, user: None, device: None, event: None, json: false };
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut val = |name: &str| it.next().cloned().ok_or_else(|| Failure::usage(format!("triage: {name} needs a value")));
        match k.as_str() {
            "--report" => a.report = Some(val("--report")?),
            "--har" => a.har = Some(val("--har")?),
            "--synapse-log" => a.logs.push(val("--synapse-log")?),
            "--synapse-db" => a.db = Some(val("--synapse-db")?),
            "--user" => a.user = Some(val("--user")?),
            "--device" => a.device = Some(val("--device")?),
            "--event" => a.event = Some(val("--event")?),
            "--json" => a.json = true,
            other => return Err(Failure::usage(format!("triage: unknown option `{other}`"))),
        }
    }
    // No client artifact at all: the server alone, for the device the admin names.
    let server_only = a.user.is_some() && a.device.is_some() && (a.db.is_some() || !a.logs.is_empty());
    if a.report.is_none() && a.har.is_none() && !server_only {
        return Err(Failure::usage("triage: --report is required (or --har, for a client without crypto-health; or --user and --device with --synapse-db/--synapse-log, for the server alone)"));
    }
    Ok(a)
}

fn read_text(flag: &str, path: &str) -> Result<String, Failure> {
    let bytes = std::fs::read(path).map_err(|e| Failure::input(format!("{flag} {path}: {e}")))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::input(format!("{flag} {path}: empty file")));
    }
    String::from_utf8(bytes).map_err(|e| Failure::input(format!("{flag} {path}: not UTF-8 text ({e})")))
}

fn file_name(p: &str) -> String {
    std::path::Path::new(p).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| p.to_string())
}

pub(crate) fn run(args: &[String], out: &mut impl Write) -> Result<(), Failure> {
    let a = parse_args(args)?;
    let mut facts = match &a.report {
        Some(path) => {
            let text = read_text("--report", path)?;
            let report = Report::from_json(&text).map_err(|e| Failure::input(format!("--report {path}: {e}")))?;
            let raw: Value = serde_json::from_str(&text).map_err(|e| Failure::input(format!("--report {path}: {e}")))?;
            report_facts::extract(&report, &raw)
        }
        None => report_facts::ReportFacts::empty(),
    };
    let har = match &a.har {
        Some(p) => {
            let h = har::read(p).map_err(Failure::input)?;
            facts.add_har(&h);
            Some(h)
        }
        None => None,
    };

    let subject = Subject {
        user: a.user.clone().or_else(|| facts.user_id.clone()),
        device: a.device.clone().or_else(|| facts.device_id.clone()),
        event: a.event.clone(),
    };
    let event = subject.event.clone().or_else(|| report_facts::ke3_event(&facts));

    let log = if a.logs.is_empty() {
        None
    } else {
        let mut mentions = vec![CALL_KEYS_SEND.to_string()];
        mentions.extend(event.clone());
        let q = log::LogQuery {
            user: subject.user.clone(),
            windows: decide::q4_windows(&facts, har.as_ref()),
            mentions,
            conflict_window: None,
        };
        Some(log::read_files(&a.logs, &q).map_err(Failure::input)?)
    };

    let db = match &a.db {
        Some(spec) => Some(gather_db(spec, &subject, event.as_deref(), &facts.unreachable)?),
        None => None,
    };

    let inputs = Inputs {
        report: &facts,
        log: log.as_ref(),
        db: db.as_ref(),
        har: har.as_ref(),
        subject: &subject,
        signatures: &forensics::Vodozemac,
    };
    let mut t = decide::decide(&inputs);
    t.notes.extend(db.as_ref().and_then(flood_note));
    let doc = to_json(&t, &a, &subject, &facts, log.as_ref(), db.as_ref(), har.as_ref());
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(|e| Failure::input(e.to_string()))?;
        out.write_all(b"\n")?;
    } else {
        write_text(out, &t, &doc)?;
    }
    Ok(())
}

/// The device's unclaimed `signed_curve25519` one-time keys in the database, when read.
fn signed_otks(d: &DbFacts) -> Option<usize> {
    d.otks.as_ref().map(|v| v.iter().filter(|k| k.algorithm == "signed_curve25519").count())
}

/// The one-time-key flood from the server's side: far more keys than a client keeps (core otk::flood).
fn flood_note(d: &DbFacts) -> Option<String> {
    use crypto_health_core::otk::flood::{FIXED_IN, GROWTH_LIMIT, SDK_TARGET, SYNAPSE_CAP};
    let n = signed_otks(d).filter(|n| *n as u64 > GROWTH_LIMIT)?;
    let cap = if n as u64 >= SYNAPSE_CAP { " (at Synapse's limit: its uploads are refused)" } else { "" };
    Some(format!(
        "the device holds {n} signed_curve25519 one-time keys{cap}, a client keeps {SDK_TARGET}: the one-time-key flood \
         (matrix-sdk-crypto-wasm 18.5+ with an older matrix-js-sdk), not KE-1; first safe step: upgrade the client to {FIXED_IN}, no logout"
    ))
}

fn gather_db(spec: &str, s: &Subject, event: Option<&str>, unreachable: &[UnreachablePeer]) -> Result<DbFacts, Failure> {
    let mut db = db::open(spec).map_err(Failure::input)?;
    let mut f = DbFacts { source: db.label.clone(), ..Default::default() };
    let e = Failure::input;
    if let (Some(u), Some(d)) = (s.user.as_deref(), s.device.as_deref()) {
        f.otks = db.one_time_keys(u, d).map_err(e)?;
        f.fallback = db.fallback_keys(u, d).map_err(e)?;
        f.device_keys = db.device_keys(u, d).map_err(e)?;
        f.inbox = db.inbox_types(u, d).map_err(e)?;
    }
    if let Some(u) = s.user.as_deref() {
        f.devices = db.devices(u).map_err(e)?;
    }
    if let Some(ev) = event {
        f.event = db.event(ev).map_err(e)?;
    }
    // Devices the report could not reach: what the server holds for them (evidence about them).
    for p in unreachable {
        let Some(d) = p.device_id.as_deref() else { continue };
        let device_keys = db.device_keys(&p.user_id, d).map_err(e)?.flatten();
        let otks = db.one_time_keys(&p.user_id, d).map_err(e)?;
        f.peers.push(PeerDevice { user_id: p.user_id.clone(), device_id: d.to_string(), device_keys, otks });
    }
    f.missing = db.missing.clone();
    if let Some(v) = db.schema_version {
        f.source = format!("{} (schema {v})", f.source);
    }
    Ok(f)
}

fn to_json(
    t: &Triage,
    a: &Args,
    s: &Subject,
    facts: &report_facts::ReportFacts,
    log: Option<&log::SynapseLog>,
    db: Option<&DbFacts>,
    har: Option<&har::Har>,
) -> Value {
    json!({
        "triage": 1,
        "subject": {
            "userId": s.user, "deviceId": s.device, "eventId": s.event,
            "reportGeneratedAt": (!facts.generated_at.is_empty()).then_some(&facts.generated_at),
        },
        "inputs": {
            "report": a.report.as_deref().map(file_name),
            "har": har.map(|h| json!({"file": h.file_name(), "entries": h.entries, "keysUpload": h.uploads.len(),
                "keysUpload400": h.uploads.iter().filter(|u| u.call.status == 400).count(), "delayedEvents": h.delayed.len(), "sendToDevice": h.to_device.len()})),
            "synapseLog": log.map(|l| json!({"file": l.file_name(l.files.len().saturating_sub(1)), "files": (0..l.files.len()).map(|i| l.file_name(i)).collect::<Vec<_>>(), "lines": l.lines, "parsed": l.parsed,
                "from": l.first_ts.map(crypto_health_core::support::text::iso8601), "to": l.last_ts.map(crypto_health_core::support::text::iso8601)})),
            "synapseDb": db.map(|d| json!({"source": d.source, "missingTables": d.missing, "signedCurve25519Keys": signed_otks(d),
                "devices": d.devices.as_ref().map(|v| v.iter().map(|(id, name, seen)| json!({"deviceId": id, "displayName": name, "lastSeen": seen})).collect::<Vec<_>>())})),
        },
        "questions": t.questions.iter().map(|q| q.to_json()).collect::<Vec<_>>(),
        "forensics": {"ke1": t.forensics.as_ref().map(|f| f.to_json())},
        "conclusions": t.conclusions.iter().map(|c| c.to_json()).collect::<Vec<_>>(),
        "remediations": t.remediations.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "prevention": t.prevention,
        "notes": t.notes,
    })
}

fn write_text(out: &mut impl Write, t: &Triage, doc: &Value) -> std::io::Result<()> {
    let subj = &doc["subject"];
    let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
    let from = match (&doc["inputs"]["report"], &doc["inputs"]["har"]["file"]) {
        (Value::String(_), _) => format!("report {}", s(&subj["reportGeneratedAt"])),
        (_, Value::String(h)) => format!("no report; HAR {h}"),
        _ => "no report: the server alone".to_string(),
    };
    writeln!(out, "crypto-health triage — {} {} ({from})", s(&subj["userId"]), s(&subj["deviceId"]))?;
    for q in &t.questions {
        writeln!(
            out,
            "\n{} {}\n   answer: {}{}",
            q.id,
            q.question,
            q.answer.as_str().to_uppercase(),
            if q.finding.is_empty() { String::new() } else { format!(" — {}", q.finding) }
        )?;
        for e in &q.evidence {
            writeln!(out, "   evidence [{}]: {}", e.source, e.text)?;
        }
        for x in &q.to_settle {
            writeln!(out, "   to settle: {x}")?;
        }
    }
    if let Some(f) = &t.forensics {
        writeln!(out, "\nKE-1 forensics (key {}): {}\n   {}", f.key_id, f.verdict.as_str(), f.explanation)?;
        writeln!(
            out,
            "   old key from {}; signed by: {}",
            f.old_key_source,
            if f.old_signed_by.is_empty() { "no known identity".into() } else { f.old_signed_by.join(", ") }
        )?;
        writeln!(
            out,
            "   new key signed by: {}",
            if f.new_signed_by.is_empty() { "no known identity".into() } else { f.new_signed_by.join(", ") }
        )?;
        for n in &f.notes {
            writeln!(out, "   note: {n}")?;
        }
    }
    writeln!(out, "\nConclusions")?;
    for c in &t.conclusions {
        writeln!(out, "   {}: {} — {}", c.ke, c.status, c.summary)?;
    }
    writeln!(out, "\nRemediations (least destructive first)")?;
    for r in &t.remediations {
        let mark = if r.first_safe { "  <== first safe step" } else { "" };
        writeln!(
            out,
            "   {}. {} [{}]{mark}\n      blast radius: {}\n      {}",
            r.rank,
            r.title,
            if r.applies { "applies" } else { "does not apply now" },
            r.blast_radius,
            r.why
        )?;
        if r.applies || r.id == "otk_row_surgery" {
            for g in &r.guardrails {
                writeln!(out, "      guardrail: {g}")?;
            }
        }
    }
    if !t.prevention.is_empty() {
        writeln!(out, "\nPrevention")?;
        for p in &t.prevention {
            writeln!(out, "   - {p}")?;
        }
    }
    for n in &t.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
