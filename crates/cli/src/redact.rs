//! `crypto-health redact`.

use crate::{for_each_line, Failure};
use crypto_health_core::evidence::redact::{redact, RedactionCounts};
use std::io::Write;

pub(crate) fn run(args: &[String], out: &mut impl Write) -> Result<(), Failure> {
    if let Some(a) = args.first() {
        return Err(Failure::usage(format!("redact: unknown option `{a}`")));
    }
    let mut counts = RedactionCounts::default();
    for_each_line(|_, line| {
        writeln!(out, "{}", redact(line, &mut counts))?;
        Ok(())
    })?;
    if counts.total() > 0 {
        let by: Vec<String> = counts.iter().map(|(k, n)| format!("{}={n}", k.as_str())).collect();
        eprintln!("crypto-health: redacted {} secret(s): {}", counts.total(), by.join(", "));
    }
    Ok(())
}
