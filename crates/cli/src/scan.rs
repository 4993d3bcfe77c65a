//! `crypto-health scan`: the whole server at once, for an admin whose users outgrow one report
//! at a time. Read only, with the same guarantees as triage (server::db).
//!
//! - KE-1: every device whose keys/upload Synapse rejected with `One time key … already exists`
//!   in the window (from the log), with its conflicting key ids, how many 400s, and whether the
//!   stored row still differs from the key the client sends (from the database);
//! - one-time keys exhausted: devices with published device keys and no `signed_curve25519`
//!   one-time key left, and whether their fallback key is used;
//! - to-device backlog: devices with many queued to-device messages, and whether the device
//!   still shows up (last seen) or is stale;
//! - one-time-key flood: devices holding far more one-time keys than a client keeps (50), the
//!   mark of matrix-sdk-crypto-wasm 18.5+ with a matrix-js-sdk before 42.4.0 (core otk::flood).
//!
//! Each list is ranked, and each device gets its first safe step (docs/TRIAGE.md, scan).

use crate::server::{db, log};
use crate::Failure;
use crypto_health_core::otk::conflict::keys_differ;
use crypto_health_core::otk::flood::{FIXED_IN, GROWTH_LIMIT, SDK_TARGET, SYNAPSE_CAP};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

pub(crate) const USAGE: &str = "  scan --synapse-db DB [--synapse-log FILE]... [--since TIME] [--until TIME]
       [--backlog-min N] [--otk-low N] [--otk-flood N] [--json]
                       the whole server at once, read only: every device in the KE-1 state
                       in the window (400s per device, conflicting key ids, whether the
                       stored rows differ), devices with exhausted one-time keys, devices
                       with a to-device backlog, devices holding more than N one-time keys
                       (default 100: a client keeps 50); ranked, with the first safe step per device";

const DAY_MS: i64 = 86_400_000;

struct Args {
    db: String,
    logs: Vec<String>,
    since: Option<u64>,
    until: Option<u64>,
    backlog_min: i64,
    otk_low: i64,
    otk_flood: i64,
    json: bool,
}

fn parse_args(args: &[String]) -> Result<Args, Failure> {
    let mut a = Args {
        db: String::new(),
        logs: Vec::new(),
        since: None,
        until: None,
        backlog_min: 100,
        otk_low: 0,
        otk_flood: GROWTH_LIMIT as i64,
        json: false,
    };
    let mut db = None;
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut val = |name: &str| it.next().cloned().ok_or_else(|| Failure::usage(format!("scan: {name} needs a value")));
        let time = |name: &str, v: String| {
            log::parse_time_arg(&v)
                .ok_or_else(|| Failure::usage(format!("scan: {name} `{v}`: expected YYYY-MM-DD[THH:MM[:SS]] (UTC) or Unix ms")))
        };
        let num = |name: &str, v: String| {
            v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| Failure::usage(format!("scan: {name} `{v}`: expected a number ≥ 0")))
        };
        match k.as_str() {
            "--synapse-db" => db = Some(val("--synapse-db")?),
            "--synapse-log" => a.logs.push(val("--synapse-log")?),
            "--since" => a.since = Some(time("--since", val("--since")?)?),
            "--until" => a.until = Some(time("--until", val("--until")?)?),
            "--backlog-min" => a.backlog_min = num("--backlog-min", val("--backlog-min")?)?.max(1),
            "--otk-low" => a.otk_low = num("--otk-low", val("--otk-low")?)?,
            "--otk-flood" => a.otk_flood = num("--otk-flood", val("--otk-flood")?)?,
            "--json" => a.json = true,
            other => return Err(Failure::usage(format!("scan: unknown option `{other}`"))),
        }
    }
    a.db = db.ok_or_else(|| Failure::usage("scan: --synapse-db is required"))?;
    Ok(a)
}

struct Ke1Device {
    user: String,
    device: String,
    rejections: u64,
    first_ts: Option<u64>,
    last_ts: Option<u64>,
    /// (algorithm:key_id, 400s, stored row differs: Some(true/false), None = no longer stored / not checked)
    keys: Vec<(String, u64, Option<bool>)>,
    source: String,
    first_source: String,
}

impl Ke1Device {
    fn diverged(&self) -> bool {
        self.keys.iter().any(|k| k.2 == Some(true))
    }
}

fn iso(ms: Option<u64>) -> Value {
    ms.map(crypto_health_core::support::text::iso8601).map(Value::from).unwrap_or(Value::Null)
}

pub(crate) fn run(args: &[String], out: &mut impl Write) -> Result<(), Failure> {
    let a = parse_args(args)?;
    let t0 = Instant::now();
    let log = if a.logs.is_empty() {
        None
    } else {
        let window = (a.since.is_some() || a.until.is_some()).then(|| (a.since.unwrap_or(0), a.until.unwrap_or(u64::MAX)));
        Some(log::read_files(&a.logs, &log::LogQuery { conflict_window: window, ..Default::default() }).map_err(Failure::input)?)
    };
    let log_ms = t0.elapsed().as_millis() as u64;
    let t1 = Instant::now();
    let mut db = db::open(&a.db).map_err(Failure::input)?;
    let connect_ms = t1.elapsed().as_millis() as u64;
    let e = Failure::input;

    // KE-1, per device: the log's conflicts folded, each key checked against its stored row.
    let mut by_device: BTreeMap<(String, String), Ke1Device> = BTreeMap::new();
    if let Some(log) = &log {
        for c in &log.conflicts {
            let user = c.user.clone().unwrap_or_else(|| "?".into());
            let device = c.device.clone().unwrap_or_else(|| "?".into());
            let d = by_device.entry((user.clone(), device.clone())).or_insert_with(|| Ke1Device {
                user,
                device,
                rejections: 0,
                first_ts: None,
                last_ts: None,
                keys: Vec::new(),
                source: log.source(c.loc),
                first_source: log.source(c.first_loc),
            });
            d.rejections += c.count;
            if c.first_ts.is_some() && (d.first_ts.is_none() || c.first_ts < d.first_ts) {
                d.first_ts = c.first_ts;
                d.first_source = log.source(c.first_loc);
            }
            if c.last_ts >= d.last_ts {
                d.last_ts = c.last_ts;
                d.source = log.source(c.loc);
            }
            d.keys.push((format!("{}:{}", c.conflict.algorithm, c.conflict.key_id), c.count, None));
        }
    }
    let mut ke1: Vec<Ke1Device> = by_device.into_values().collect();
    for d in &mut ke1 {
        for k in &mut d.keys {
            let (alg, id) = k.0.split_once(':').unwrap_or(("", ""));
            if d.device == "?" {
                continue;
            }
            let conflict = log.as_ref().and_then(|l| {
                l.conflicts
                    .iter()
                    .find(|c| c.conflict.algorithm == alg && c.conflict.key_id == id && c.device.as_deref() == Some(d.device.as_str()))
            });
            let new_key = conflict.and_then(|c| c.conflict.new_key.clone());
            if let Some(Some(row)) = db.one_time_key(&d.user, &d.device, alg, id).map_err(e)? {
                let stored: Option<Value> = serde_json::from_str(&row.key_json).ok();
                k.2 = match (stored, new_key) {
                    (Some(s), Some(n)) => Some(keys_differ(&s, &n)),
                    // Synapse answers "already exists" only for a different value.
                    (Some(_), None) => Some(true),
                    _ => None,
                };
            }
        }
        d.keys.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    ke1.sort_by(|a, b| {
        b.diverged()
            .cmp(&a.diverged())
            .then(b.rejections.cmp(&a.rejections))
            .then(b.last_ts.cmp(&a.last_ts))
            .then(a.user.cmp(&b.user))
            .then(a.device.cmp(&b.device))
    });

    let mut low = db.low_otk_devices(a.otk_low).map_err(e)?;
    if let Some(v) = &mut low {
        v.sort_by(|x, y| {
            (y.fallback_used == Some(true))
                .cmp(&(x.fallback_used == Some(true)))
                .then(x.signed_otks.cmp(&y.signed_otks))
                .then(x.user_id.cmp(&y.user_id))
                .then(x.device_id.cmp(&y.device_id))
        });
    }
    let backlog = db.backlogs(a.backlog_min).map_err(e)?;
    let flood = db.otk_flood_devices(a.otk_flood).map_err(e)?;
    let db_ms = t1.elapsed().as_millis() as u64;

    // "Stale": not seen for a day before the newest thing we know of (log end, else the newest sighting).
    let newest_seen = backlog.as_ref().and_then(|b| b.iter().filter_map(|x| x.last_seen).max());
    let now = log.as_ref().and_then(|l| l.last_ts).map(|t| t as i64).or(newest_seen);
    let stale = |seen: Option<i64>| match (seen, now) {
        (None, _) => true,
        (Some(s), Some(n)) => n - s > DAY_MS,
        (Some(_), None) => false,
    };

    let ke1_json: Vec<Value> = ke1
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let (step, why) = if d.diverged() {
                ("device_relogin", "the server holds a different key under an id the client keeps uploading: per-device logout + re-login (fresh device id, fresh keys); check key backup first")
            } else if d.keys.iter().all(|k| k.2.is_none()) {
                ("watch", "the conflicting keys are no longer stored (claimed or deleted): if the 400s go on, per-device logout + re-login")
            } else {
                ("triage_device", "the stored key equals the client's: not a standing divergence; run `crypto-health triage` with the device's report")
            };
            json!({
                "rank": i + 1, "userId": d.user, "deviceId": d.device, "rejections400": d.rejections,
                "firstSeen": iso(d.first_ts), "lastSeen": iso(d.last_ts), "evidence": d.source, "firstEvidence": d.first_source,
                "storedRowsDiffer": d.diverged(),
                "keys": d.keys.iter().map(|(k, n, differs)| json!({"keyId": k, "rejections400": n, "storedRowDiffers": differs})).collect::<Vec<_>>(),
                "firstSafeStep": {"id": step, "why": why},
            })
        })
        .collect();
    let low_json: Option<Vec<Value>> = low.as_ref().map(|v| {
        v.iter()
            .enumerate()
            .map(|(i, d)| {
                let (step, why) = match d.fallback_used {
                    Some(true) => ("check_client_uploads", "no one-time key left and the fallback key is used: new sessions reuse it; the client should upload keys when it next syncs — if it stays at 0, check that the device is still in use, and sign a stale one out"),
                    Some(false) => ("check_client_uploads", "no one-time key left, the unused fallback key covers new sessions for now; the client should top up when it next syncs"),
                    None => ("check_client_uploads", "no one-time key and no fallback key: nobody can start an Olm session with this device; the client must upload keys (open it), or sign the device out"),
                };
                json!({"rank": i + 1, "userId": d.user_id, "deviceId": d.device_id, "signedCurve25519": d.signed_otks, "fallbackUsed": d.fallback_used, "firstSafeStep": {"id": step, "why": why}})
            })
            .collect()
    });
    let backlog_json: Option<Vec<Value>> = backlog.as_ref().map(|v| {
        v.iter()
            .enumerate()
            .map(|(i, b)| {
                let st = stale(b.last_seen);
                let (step, why) = if st {
                    ("sign_out_stale_device", "the device has no sighting in the last day (or none recorded) while messages for it pile up: senders keep encrypting to it; sign the device out (per-device logout)")
                } else {
                    ("check_device_sync", "the device is seen but does not drain its to-device queue: check that its client syncs and processes to-device events; a per-device logout + re-login clears it")
                };
                json!({"rank": i + 1, "userId": b.user_id, "deviceId": b.device_id, "queued": b.queued, "streamIds": [b.min_stream, b.max_stream],
                       "lastSeen": b.last_seen.map(|s| iso(Some(s.max(0) as u64))).unwrap_or(Value::Null), "stale": st, "firstSafeStep": {"id": step, "why": why}})
            })
            .collect()
    });
    let flood_json: Option<Vec<Value>> = flood.as_ref().map(|v| {
        let why = format!(
            "the client uploads a new batch of one-time keys on almost every sync (a correct one keeps {SDK_TARGET}): \
             matrix-sdk-crypto-wasm 18.5+ with an older matrix-js-sdk; upgrade the client to {FIXED_IN}. \
             The device and its keys are sound: no logout needed"
        );
        v.iter()
            .enumerate()
            .map(|(i, (user, device, n))| {
                json!({"rank": i + 1, "userId": user, "deviceId": device, "signedCurve25519": n, "atSynapseCap": *n >= SYNAPSE_CAP as i64,
                       "firstSafeStep": {"id": "upgrade_client", "why": why}})
            })
            .collect()
    });
    let mut notes: Vec<String> = db.missing.iter().map(|t| format!("table `{t}` is not in this database: its list is null")).collect();
    if log.is_none() {
        notes.push("no --synapse-log: the KE-1 list needs Synapse's conflict lines (ke1 is null)".into());
    }
    if let Some(l) = log.as_ref().filter(|l| l.conflicts_dropped > 0) {
        notes.push(format!("{} conflicting keys beyond the first {} were counted but not listed", l.conflicts_dropped, log::CONFLICT_CAP));
    }
    let doc = json!({
        "scan": 1,
        "inputs": {
            "synapseDb": {"source": db.label, "schemaVersion": db.schema_version, "missingTables": db.missing},
            "synapseLog": log.as_ref().map(|l| json!({"files": (0..l.files.len()).map(|i| l.file_name(i)).collect::<Vec<_>>(), "lines": l.lines, "parsed": l.parsed, "from": iso(l.first_ts), "to": iso(l.last_ts)})),
            "window": {"since": iso(a.since), "until": iso(a.until)},
            "backlogMin": a.backlog_min, "otkLow": a.otk_low, "otkFloodMin": a.otk_flood,
        },
        "ke1": if log.is_some() { Value::from(ke1_json) } else { Value::Null },
        "otkExhausted": low_json,
        "toDeviceBacklog": backlog_json,
        "otkFlood": flood_json,
        "timings": {"logMs": log_ms, "dbMs": db_ms, "connectMs": connect_ms},
        "notes": notes,
    });
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(|e| Failure::input(e.to_string()))?;
        out.write_all(b"\n")?;
    } else {
        write_text(out, &doc)?;
    }
    Ok(())
}

fn write_text(out: &mut impl Write, doc: &Value) -> std::io::Result<()> {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    };
    writeln!(out, "crypto-health scan — {} (read only)", s(&doc["inputs"]["synapseDb"]["source"]))?;
    writeln!(out, "\nKE-1: devices whose keys/upload Synapse rejects (one-time key conflict), worst first")?;
    match doc["ke1"].as_array() {
        None => writeln!(out, "   (needs --synapse-log)")?,
        Some(v) if v.is_empty() => writeln!(out, "   none in the window")?,
        Some(v) => {
            for d in v {
                writeln!(
                    out,
                    "   {}. {} {} — {} × 400, {} to {}, stored rows differ: {}  [{}]",
                    s(&d["rank"]),
                    s(&d["userId"]),
                    s(&d["deviceId"]),
                    s(&d["rejections400"]),
                    s(&d["firstSeen"]),
                    s(&d["lastSeen"]),
                    s(&d["storedRowsDiffer"]),
                    s(&d["evidence"])
                )?;
                for k in d["keys"].as_array().into_iter().flatten() {
                    writeln!(
                        out,
                        "      key {}: {} × 400, stored row differs: {}",
                        s(&k["keyId"]),
                        s(&k["rejections400"]),
                        s(&k["storedRowDiffers"])
                    )?;
                }
                writeln!(out, "      first safe step: {} — {}", s(&d["firstSafeStep"]["id"]), s(&d["firstSafeStep"]["why"]))?;
            }
        }
    }
    writeln!(out, "\nOne-time keys exhausted (≤ {} signed_curve25519 left)", s(&doc["inputs"]["otkLow"]))?;
    match doc["otkExhausted"].as_array() {
        None => writeln!(out, "   (tables missing)")?,
        Some(v) if v.is_empty() => writeln!(out, "   none")?,
        Some(v) => {
            for d in v {
                writeln!(
                    out,
                    "   {}. {} {} — {} left, fallback used: {}\n      first safe step: {} — {}",
                    s(&d["rank"]),
                    s(&d["userId"]),
                    s(&d["deviceId"]),
                    s(&d["signedCurve25519"]),
                    s(&d["fallbackUsed"]),
                    s(&d["firstSafeStep"]["id"]),
                    s(&d["firstSafeStep"]["why"])
                )?;
            }
        }
    }
    writeln!(out, "\nTo-device backlog (≥ {} queued)", s(&doc["inputs"]["backlogMin"]))?;
    match doc["toDeviceBacklog"].as_array() {
        None => writeln!(out, "   (table missing)")?,
        Some(v) if v.is_empty() => writeln!(out, "   none")?,
        Some(v) => {
            for d in v {
                writeln!(
                    out,
                    "   {}. {} {} — {} queued, last seen {}{}\n      first safe step: {} — {}",
                    s(&d["rank"]),
                    s(&d["userId"]),
                    s(&d["deviceId"]),
                    s(&d["queued"]),
                    s(&d["lastSeen"]),
                    if d["stale"] == true { " (stale)" } else { "" },
                    s(&d["firstSafeStep"]["id"]),
                    s(&d["firstSafeStep"]["why"])
                )?;
            }
        }
    }
    writeln!(out, "\nOne-time-key flood (> {} signed_curve25519 held), most first", s(&doc["inputs"]["otkFloodMin"]))?;
    match doc["otkFlood"].as_array() {
        None => writeln!(out, "   (table missing)")?,
        Some(v) if v.is_empty() => writeln!(out, "   none")?,
        Some(v) => {
            for d in v {
                writeln!(
                    out,
                    "   {}. {} {} — {} held{}\n      first safe step: {} — {}",
                    s(&d["rank"]),
                    s(&d["userId"]),
                    s(&d["deviceId"]),
                    s(&d["signedCurve25519"]),
                    if d["atSynapseCap"] == true { " (at Synapse's limit: further uploads are refused)" } else { "" },
                    s(&d["firstSafeStep"]["id"]),
                    s(&d["firstSafeStep"]["why"])
                )?;
            }
        }
    }
    for n in doc["notes"].as_array().into_iter().flatten() {
        writeln!(out, "note: {}", s(n))?;
    }
    Ok(())
}
