//! `crypto-health`: the E2EE investigation's tools on the command line.
//!
//! - `classify [--jsonl]`: one JSON object per input message.
//! - `redact`: input lines with secrets removed.
//! - `triage`: the decision tree of docs/TRIAGE.md from a report (or a HAR) plus server evidence.
//! - `scan`: the whole server at once: every device in the KE-1 state, exhausted one-time keys,
//!   to-device backlogs.

mod classify;
mod redact;
mod scan;
mod server;
mod triage;

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

const USAGE_HEAD: &str = "usage: crypto-health <command> [options]

commands:
  classify [--jsonl]   read one message per line from stdin (with --jsonl: one JSON
                       string per line, for multi-line messages) and print one JSON
                       object per message: {\"ke\", \"signature\", \"severity\", \"fields\"}
  redact               read lines from stdin, print them with secrets redacted
{TRIAGE}
{SCAN}
  help                 this text
";

fn usage() -> String {
    USAGE_HEAD.replace("{TRIAGE}", triage::USAGE).replace("{SCAN}", scan::USAGE)
}

/// A failure the user can act on: message and exit code.
pub struct Failure {
    /// What went wrong, for stderr.
    pub message: String,
    /// The exit code: 1 bad input, 2 usage.
    pub code: u8,
}

impl Failure {
    /// A usage error (exit 2), with the usage text after the message.
    pub fn usage(msg: impl std::fmt::Display) -> Self {
        Failure { message: format!("{msg}\n\n{}", usage()), code: 2 }
    }
    /// Bad input (exit 1).
    pub fn input(msg: impl std::fmt::Display) -> Self {
        Failure { message: msg.to_string(), code: 1 }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        // A closed pipe (`| head`) means the reader has had enough: success, silently.
        let code = if e.kind() == io::ErrorKind::BrokenPipe { 0 } else { 1 };
        Failure { message: format!("I/O error: {e}"), code }
    }
}

/// Read stdin line by line as text: invalid UTF-8 is a clear error with the line number.
pub fn for_each_line(mut f: impl FnMut(usize, &str) -> Result<(), Failure>) -> Result<(), Failure> {
    let stdin = io::stdin();
    let mut buf = Vec::new();
    let mut lock = stdin.lock();
    let mut n = 0;
    loop {
        buf.clear();
        if lock.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        n += 1;
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        let line = std::str::from_utf8(&buf).map_err(|e| Failure::input(format!("line {n}: not UTF-8 text ({e})")))?;
        f(n, line)?;
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    let r = match args.first().map(String::as_str) {
        Some("classify") => classify::run(&args[1..], &mut out),
        Some("redact") => redact::run(&args[1..], &mut out),
        Some("triage") => triage::run(&args[1..], &mut out),
        Some("scan") => scan::run(&args[1..], &mut out),
        Some("help" | "--help" | "-h") => {
            out.write_all(usage().as_bytes())?;
            Ok(())
        }
        Some(other) => Err(Failure::usage(format!("unknown command `{other}`"))),
        None => Err(Failure::usage("no command given")),
    };
    let flushed = out.flush().map_err(Failure::from);
    r.and(flushed)
}

/// The arguments as text: one that is not UTF-8 is a usage error naming it (lossily), not a panic.
fn text_args(args: impl Iterator<Item = std::ffi::OsString>) -> Result<Vec<String>, Failure> {
    args.enumerate()
        .map(|(i, a)| {
            a.into_string().map_err(|raw| Failure::usage(format!("argument {} is not UTF-8 text: `{}`", i + 1, raw.to_string_lossy())))
        })
        .collect()
}

fn main() -> ExitCode {
    match text_args(std::env::args_os().skip(1)).and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) if f.code == 0 => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("crypto-health: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
