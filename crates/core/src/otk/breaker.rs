//! The opt-in storm breaker: while the upload loop is a storm, an upload whose
//! content is identical to the last rejected one is answered locally with the
//! server's last 400 instead of reaching the server. One probe goes through on
//! a backoff schedule (30 s → 2 min → 10 min, then every 10 min); any changed
//! body always goes through. The server stays authoritative: a probe's answer
//! decides whether the storm is over (the recovery contract: the server is authoritative, retries are bounded with backoff, divergence is surfaced).

/// Delay before probe n (0-based); the last step repeats.
pub const PROBE_SCHEDULE_MS: [u64; 3] = [30_000, 120_000, 600_000];
/// Bodies above this size are not kept for local answers (Synapse's 400 is ~1 KiB).
pub const MAX_KEPT_BODY: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Not in a storm, or a different body: send as usual.
    Forward,
    /// Identical body, but a probe is due: send it and see.
    Probe,
    /// Identical body during a storm: answer with the kept 400.
    AnswerLocally,
}

/// The server's last rejection, replayed byte for byte.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptResponse {
    pub status: u16,
    pub status_text: String,
    pub content_type: Option<String>,
    pub body: String,
    #[serde(skip)]
    pub fingerprint: u64,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Breaker {
    pub enabled: bool,
    /// True between the storm's start and the next accepted upload.
    pub armed: bool,
    #[serde(skip)]
    pub kept: Option<KeptResponse>,
    pub next_probe_at: Option<u64>,
    /// Index into [`PROBE_SCHEDULE_MS`] of the next delay.
    pub probe_step: usize,
    pub probes: u64,
    pub saved_requests: u64,
    pub last_saved_at: Option<u64>,
}

impl Breaker {
    /// The storm started: first probe after the first delay.
    pub fn arm(&mut self, now: u64) {
        if !self.armed {
            self.armed = true;
            self.probe_step = 0;
            self.next_probe_at = Some(now + PROBE_SCHEDULE_MS[0]);
        }
    }

    /// The storm is over (an upload was accepted): everything flows again.
    pub fn disarm(&mut self) {
        self.armed = false;
        self.kept = None;
        self.next_probe_at = None;
        self.probe_step = 0;
    }

    /// Keep the server's rejection of the body with this fingerprint.
    pub fn keep(&mut self, resp: KeptResponse) {
        if resp.body.len() <= MAX_KEPT_BODY {
            self.kept = Some(resp);
        }
    }

    /// What to do with an upload whose content has this fingerprint.
    pub fn decide(&mut self, fingerprint: u64, now: u64) -> Decision {
        let same = self.kept.as_ref().is_some_and(|k| k.fingerprint == fingerprint);
        if !(self.enabled && self.armed && same) {
            return Decision::Forward;
        }
        match self.next_probe_at {
            Some(at) if now < at => {
                self.saved_requests += 1;
                self.last_saved_at = Some(now);
                Decision::AnswerLocally
            }
            _ => {
                self.probes += 1;
                self.probe_step = (self.probe_step + 1).min(PROBE_SCHEDULE_MS.len() - 1);
                self.next_probe_at = Some(now + PROBE_SCHEDULE_MS[self.probe_step]);
                Decision::Probe
            }
        }
    }
}

// `fingerprint` and `kept` stay inside (serde skips them too).

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(fp: u64) -> KeptResponse {
        KeptResponse {
            status: 400,
            status_text: "Bad Request".into(),
            content_type: Some("application/json".into()),
            body: "{}".into(),
            fingerprint: fp,
        }
    }

    #[test]
    fn forwards_unless_enabled_armed_and_identical() {
        let mut b = Breaker::default();
        b.keep(kept(7));
        b.arm(0);
        assert_eq!(b.decide(7, 1), Decision::Forward, "disabled");
        b.enabled = true;
        assert_eq!(b.decide(7, 1), Decision::AnswerLocally);
        assert_eq!(b.decide(8, 1), Decision::Forward, "changed body goes through");
        b.disarm();
        assert_eq!(b.decide(7, 2), Decision::Forward, "no storm");
        assert_eq!(b.saved_requests, 1);
    }

    #[test]
    fn probes_follow_the_backoff_schedule() {
        let mut b = Breaker { enabled: true, ..Default::default() };
        b.keep(kept(1));
        b.arm(0);
        let mut probes = Vec::new();
        // One attempt per second for 40 minutes of simulated time.
        for t in (0..2_400_000u64).step_by(1000) {
            if b.decide(1, t) == Decision::Probe {
                probes.push(t);
            }
        }
        // 30 s, then +2 min, then every 10 min.
        assert_eq!(probes, vec![30_000, 150_000, 750_000, 1_350_000, 1_950_000]);
        assert_eq!(b.saved_requests, 2400 - 5);
        // Arming again while armed does not reset the schedule.
        b.arm(2_400_000);
        assert_eq!(b.next_probe_at, Some(2_550_000));
    }

    #[test]
    fn oversized_bodies_are_not_kept() {
        let mut b = Breaker { enabled: true, ..Default::default() };
        b.keep(KeptResponse { body: "x".repeat(MAX_KEPT_BODY + 1), ..kept(1) });
        b.arm(0);
        assert_eq!(b.decide(1, 1), Decision::Forward);
    }
}
