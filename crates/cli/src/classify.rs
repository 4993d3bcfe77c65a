//! `crypto-health classify`.

use crate::{for_each_line, Failure};
use crypto_health_core::classify;
use serde_json::{json, Value};
use std::io::Write;

pub(crate) fn run(args: &[String], out: &mut impl Write) -> Result<(), Failure> {
    let mut jsonl = false;
    for a in args {
        match a.as_str() {
            "--jsonl" => jsonl = true,
            other => return Err(Failure::usage(format!("classify: unknown option `{other}`"))),
        }
    }
    for_each_line(|n, line| {
        let message = if jsonl {
            if line.trim().is_empty() {
                return Ok(());
            }
            match serde_json::from_str::<Value>(line) {
                Ok(Value::String(s)) => s,
                Ok(_) => return Err(Failure::input(format!("line {n}: --jsonl expects a JSON string per line"))),
                Err(e) => return Err(Failure::input(format!("line {n}: not JSON ({e})"))),
            }
        } else {
            line.to_owned()
        };
        let v = match classify(&message) {
            Some(c) => c.to_json(),
            None => json!({"ke": null, "signature": null, "severity": null, "fields": {}}),
        };
        writeln!(out, "{v}")?;
        Ok(())
    })
}
