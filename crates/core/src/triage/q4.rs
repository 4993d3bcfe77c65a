//! Q4 (KE-4): do the delayed-event timeouts coincide with homeserver latency? A request that
//! took at least the client's local timeout around them: homeserver latency. Fast requests
//! while the client timed out: the client's retry behaviour. Either way independent of KE-1..KE-3.

use super::facts::{Access, Call, Har, SynapseLog};
use super::model::{Answer, Evidence, Question};
use super::{quote, Inputs, KE4_LOCAL_TIMEOUT_S, KE4_WINDOW_AFTER_MS, KE4_WINDOW_BEFORE_MS};
use serde_json::{json, Value};

const QUESTION: &str = "KE-4: do delayed-event timeouts coincide with homeserver latency spikes in the same minute?";

/// The log window read around a timeout from `from` to `to` (Unix ms).
pub(crate) fn window(from: u64, to: u64) -> (u64, u64) {
    (from.saturating_sub(KE4_WINDOW_BEFORE_MS), to + KE4_WINDOW_AFTER_MS)
}

/// A delayed-event call the client would count as a timeout: no answer, a server error, or
/// longer than the client's local timeout.
pub(crate) fn call_failed(c: &Call) -> bool {
    c.status == 0 || c.status >= 500 || c.time_ms >= KE4_LOCAL_TIMEOUT_S * 1000.0
}

fn slow(a: &Access) -> bool {
    a.secs.unwrap_or(0.0) >= KE4_LOCAL_TIMEOUT_S
}

/// Q4 from the report's timeouts, else from a HAR's delayed-event calls.
pub fn ask(i: &Inputs) -> Question {
    let q = Question::new("Q4", QUESTION);
    let r = i.report;
    if let Some(h) = i.har.filter(|h| r.ke4.is_empty() && !h.delayed.is_empty()) {
        return from_har(q, h, i.log);
    }
    from_report(q, i)
}

fn from_report(mut q: Question, i: &Inputs) -> Question {
    let r = i.report;
    if r.ke4.is_empty() {
        q.finding = "no KE-4 timeout in the report: not applicable".into();
        q.details = json!({"applicable": false});
        return q;
    }
    for x in r.ke4.iter().take(3) {
        q.evidence.push(Evidence::new(&x.source, quote(&x.message)));
    }
    let Some(log) = i.log else {
        q.finding = format!("{} KE-4 line(s) in the report; no server log to compare latency with", r.ke4.len());
        q.details = json!({"applicable": true});
        q.to_settle.push("--synapse-log covering the timeouts (request durations), or the Grafana p99 panel for the same minutes".into());
        return q;
    };
    let mut covered = 0;
    let mut slow_requests: Vec<&Access> = Vec::new();
    let mut worst = 0.0f64;
    for x in r.ke4.iter().filter(|x| log.covers(x.ts, KE4_WINDOW_BEFORE_MS)) {
        covered += 1;
        let (from, to) = window(x.ts, x.last_ts.max(x.ts));
        for a in log.window_access.iter().filter(|a| a.ts.is_some_and(|t| t >= from && t <= to)) {
            worst = worst.max(a.secs.unwrap_or(0.0));
            if slow(a) && !slow_requests.iter().any(|s| s.loc == a.loc) {
                slow_requests.push(a);
            }
        }
    }
    // The latency the client measured itself (HTTP tap / widget API), when the report has it.
    let measured = r.ke4.iter().filter_map(|x| x.fields.get("maxMs").and_then(Value::as_u64)).max();
    q.details = json!({"applicable": true, "timeouts": r.ke4.len(), "timeoutsCoveredByLog": covered, "slowRequests": slow_requests.len(), "worstSeconds": worst, "clientMaxMs": measured});
    if covered == 0 {
        q.finding = "the log does not cover the timeouts' time (or the clocks differ)".into();
        q.to_settle.push("a Synapse log slice for the call window (check both clocks are UTC)".into());
    } else if !slow_requests.is_empty() {
        for a in slow_requests.iter().take(3) {
            q.evidence.push(Evidence::new(log.source(a.loc), quote(&a.quote)));
        }
        q.answer(Answer::Yes, format!("{} request(s) took ≥ {KE4_LOCAL_TIMEOUT_S} s (the client's local timeout) around the timeouts: homeserver responsiveness/load — independent of KE-1..KE-3", slow_requests.len()));
    } else {
        q.evidence
            .push(Evidence::new(log.source(log.end()), format!("every request within the timeout windows finished in ≤ {worst:.3} s")));
        q.answer(
            Answer::No,
            "the homeserver answered fast while the client timed out: client MembershipManager retry behaviour — independent",
        );
    }
    q
}

/// Q4 from a HAR's delayed-event calls (a client without crypto-health): their status and the
/// server's share of their time (`timings.wait`), checked against the log when there is one.
fn from_har(mut q: Question, h: &Har, log: Option<&SynapseLog>) -> Question {
    let calls = &h.delayed;
    let failed: Vec<_> = calls.iter().filter(|c| call_failed(c)).collect();
    let server_slow = calls.iter().filter(|c| c.wait_ms.is_some_and(|w| w >= KE4_LOCAL_TIMEOUT_S * 1000.0)).count();
    let worst_ms = calls.iter().map(|c| c.time_ms).fold(0.0f64, f64::max);
    let worst_wait = calls.iter().filter_map(|c| c.wait_ms).fold(0.0f64, f64::max);
    q.details = json!({"applicable": true, "source": "har", "harDelayedCalls": calls.len(), "timeouts": failed.len(), "serverSlow": server_slow, "worstMs": worst_ms, "worstWaitMs": worst_wait});
    if failed.is_empty() {
        return every_call_answered(q, calls, worst_ms);
    }
    for c in failed.iter().take(3) {
        q.evidence.push(Evidence::new(c.source(), c.describe()));
    }
    if server_slow > 0 {
        q.answer(Answer::Yes, format!("the homeserver took ≥ {KE4_LOCAL_TIMEOUT_S} s to answer {server_slow} delayed-event call(s) (HAR timings.wait, up to {worst_wait:.0} ms): homeserver responsiveness/load — independent of KE-1..KE-3"));
    } else if let Some(log) = log {
        failed_calls_in_log(&mut q, log);
    } else if failed.iter().all(|c| c.status != 0) {
        q.answer(Answer::No, format!("the failed delayed-event calls were answered with a short server wait (≤ {worst_wait:.0} ms): the time went elsewhere (network, client), not to homeserver load"));
    } else {
        q.finding = "delayed-event calls got no answer in the HAR: the browser does not say whether the server was slow".into();
        q.to_settle.push("--synapse-log for the call window: Synapse's request durations".into());
    }
    q
}

fn every_call_answered(mut q: Question, calls: &[Call], worst_ms: f64) -> Question {
    if let Some(last) = calls.last() {
        q.evidence.push(Evidence::new(
            last.source(),
            format!(
                "{} delayed-event call(s) in the HAR, every one answered, the slowest in {worst_ms:.0} ms; last: {}",
                calls.len(),
                last.describe()
            ),
        ));
    }
    q.answer(Answer::No, format!("no delayed-event timeout in this capture: the homeserver answered every delayed-event call within the client's {KE4_LOCAL_TIMEOUT_S} s timeout"));
    q
}

/// The HAR's calls failed without a slow server wait: the log's request durations decide.
fn failed_calls_in_log(q: &mut Question, log: &SynapseLog) {
    let slow_requests: Vec<&Access> = log.window_access.iter().filter(|a| slow(a)).collect();
    if let Some(a) = slow_requests.first() {
        q.evidence.push(Evidence::new(log.source(a.loc), quote(&a.quote)));
        q.answer(
            Answer::Yes,
            format!(
                "{} request(s) took ≥ {KE4_LOCAL_TIMEOUT_S} s on the server around the failed delayed-event calls: homeserver latency",
                slow_requests.len()
            ),
        );
    } else if log.window_access.is_empty() {
        q.finding = "the log does not cover the failed calls' time (or the clocks differ)".into();
        q.to_settle.push("a Synapse log slice for the call window (check both clocks are UTC)".into());
    } else {
        q.evidence.push(Evidence::new(
            log.source(log.end()),
            format!("{} request(s) logged around the failed calls, none took ≥ {KE4_LOCAL_TIMEOUT_S} s", log.window_access.len()),
        ));
        q.answer(Answer::No, "the homeserver answered fast while the client's delayed-event calls failed: client MembershipManager retry behaviour — independent");
    }
}
