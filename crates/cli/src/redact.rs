//! `crypto-health redact`.

use crate::{for_each_line, report_repaired, run_key, Failure};
use crypto_health_core::evidence::classify::classify;
use crypto_health_core::evidence::redact::{public_values, redact, redact_public, RedactionCounts};
use std::io::Write;

pub(crate) fn run(args: &[String], out: &mut impl Write) -> Result<(), Failure> {
    if let Some(a) = args.first() {
        return Err(Failure::usage(format!("redact: unknown option `{a}`")));
    }
    let mut counts = RedactionCounts::with_key(run_key());
    let repaired = for_each_line(|_, line| {
        // A KE line keeps what its parser marked public (a KE-1 proof's one-time keys), as in the browser.
        match classify(line).map(|c| public_values(&serde_json::Value::Object(c.fields))) {
            Some(public) if !public.is_empty() => {
                let public: Vec<&str> = public.iter().map(String::as_str).collect();
                writeln!(out, "{}", redact_public(line, &mut counts, &public))?;
            }
            _ => writeln!(out, "{}", redact(line, &mut counts))?,
        }
        Ok(())
    })?;
    report_repaired(repaired);
    if counts.total() > 0 {
        let by: Vec<String> = counts.iter().map(|(k, n)| format!("{}={n}", k.as_str())).collect();
        eprintln!("crypto-health: redacted {} secret(s): {}", counts.total(), by.join(", "));
    }
    Ok(())
}
