//! One-time-key health per device: the KE-1 loop detector, its proof, the
//! likely trigger and the recovery contract (the
//! server is authoritative, divergence is surfaced, never silent).
//!
//! Phases: healthy → failing (a conflict) → storm (`storm_threshold` conflicts
//! on the same key id within `storm_window_ms`) → recovered (a later accepted
//! upload). One `RecoveryNeeded` event per storm, not per failure.

use crate::evidence::signature::Class;
use crate::otk::breaker::Breaker;
use crate::otk::conflict::OtkConflict;
use crate::otk::key_id::IdScheme;
use crate::otk::upload::{UploadOutcome, UploadRequest};
use crate::report::finding::{Finding, Level};
use crate::support::obj;
use crate::support::text::iso8601;
use serde_json::Value;
use std::collections::VecDeque;

/// The same conflict seen on the HTTP and the console path within this long counts once.
pub const DEDUPE_MS: u64 = 10_000;
/// vodozemac and libolm publish a first batch of 50 one-time keys (ids 0..49).
pub const FIRST_BATCH: u64 = 50;
const MAX_PENDING: usize = 32;
/// Conflict times kept for the storm window: enough for the largest threshold
/// (1000). A loop at thousands of lines a second must not grow memory or make
/// each conflict cost more than the last; `conflicts_in_window` saturates here.
const MAX_WINDOW: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorConfig {
    pub storm_threshold: u32,
    pub storm_window_ms: u64,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig { storm_threshold: 3, storm_window_ms: 600_000 }
    }
}

impl MonitorConfig {
    /// Keep options in a range where the detector still means something.
    pub fn clamped(self) -> Self {
        MonitorConfig {
            storm_threshold: self.storm_threshold.clamp(1, 1000),
            storm_window_ms: self.storm_window_ms.clamp(1000, 86_400_000),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    #[default]
    Healthy,
    Failing,
    Storm,
    Recovered,
}

/// The recovery contract's outcome, what `otkHealth()` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Healthy,
    /// Transient failures (network, 429, 5xx): the SDK retries with backoff.
    Retrying,
    /// Server and local store disagree on a key id: needs the user, with proof.
    Diverged,
    /// The server replaced this device's identity: only a new device helps.
    Unrecoverable,
    /// Keys and identity are sound, but the client uploads one-time keys past
    /// the SDK's target on almost every sync (`flood`): only a client upgrade helps.
    Flooding,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Http,
    Console,
}

/// The KE-1 proof: the server's key and ours under one id.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proof {
    pub algorithm: String,
    pub key_id: String,
    pub key_id_scheme: IdScheme,
    pub counter: Option<u64>,
    pub old_key: Option<Value>,
    pub new_key: Option<Value>,
    /// Values differ without signatures; null when the text was cut short.
    pub diverged: Option<bool>,
    pub source: Source,
    pub seen_at: u64,
}

impl Proof {
    fn from_conflict(c: &OtkConflict, source: Source, at: u64) -> Proof {
        Proof {
            algorithm: c.algorithm.clone(),
            key_id: c.key_id.clone(),
            key_id_scheme: c.scheme,
            counter: c.counter,
            old_key: c.old_key.clone(),
            new_key: c.new_key.clone(),
            diverged: c.diverged,
            source,
            seen_at: at,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// The local account was re-created under the old device id (eviction, reset).
    AccountRecreated,
    /// Another writer (a second tab) rolled the account back.
    ConcurrentWriter,
    Unknown,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// The facts that led to `kind`, in words.
    pub facts: Vec<String>,
}

/// Runbook remediation 1, the only real remedy for this state (matrix-org/matrix-js-sdk src/rust-crypto/OutgoingRequestsManager.ts).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    pub id: String,
    pub title: String,
    pub steps: Vec<String>,
    pub blast_radius: String,
    pub backup_warning: String,
}

fn recommendation(trigger: TriggerKind) -> Recommendation {
    let mut steps = vec![
        "Check that key backup is on and up to date (or export room keys) before anything else.",
        "Sign out of this session (a real logout: the server deletes this device and its one-time keys).",
        "Sign back in: you get a new device id, a new identity and fresh one-time keys.",
        "Verify the new session from another device.",
    ];
    if trigger == TriggerKind::ConcurrentWriter {
        steps.insert(0, "Close every other tab of this app on this browser first.");
    }
    Recommendation {
        id: "relogin_new_device".into(),
        title: "Sign out and sign back in to get a new device".into(),
        steps: steps.into_iter().map(String::from).collect(),
        blast_radius: "Only this session: its Olm sessions and any room keys not in backup are lost; other devices, \
                       rooms and your account are unaffected. Clearing storage without signing out keeps the broken device \
                       and the loop comes back."
            .into(),
        backup_warning: "Without key backup (or an exported key file), messages sent before you sign out cannot be \
                         decrypted in the new session."
            .into(),
    }
}

/// The device identity seen in uploads, remembered across reloads.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityTrack {
    /// ed25519 identity key first seen for this user+device on this browser.
    pub known: Option<String>,
    pub first_seen_at: Option<u64>,
    /// A different identity uploaded under the same device id.
    pub replaced_by: Option<String>,
    pub replaced_at: Option<u64>,
    /// The curve25519 key of the first identity (`known`): peers that knew the
    /// device before a reset keep encrypting to it.
    pub curve25519: Option<String>,
    /// The curve25519 key of the identity that replaced it.
    pub replaced_by_curve25519: Option<String>,
}

impl IdentityTrack {
    /// The curve25519 key this device holds now, as its last identity upload showed it.
    pub fn current_curve25519(&self) -> Option<&str> {
        if self.replaced_by.is_some() {
            self.replaced_by_curve25519.as_deref()
        } else {
            self.curve25519.as_deref()
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Uploads {
    pub requests: u64,
    pub accepted: u64,
    /// Conflicts counted once, whichever path saw them.
    pub conflicts: u64,
    pub rejected: u64,
    pub transient: u64,
    /// The same conflict seen on the second path.
    pub duplicates: u64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryNeeded {
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub outcome: Outcome,
    pub proof: Option<Proof>,
    pub trigger: Option<Trigger>,
    pub recommendation: Recommendation,
    pub storm_started_at: u64,
    pub conflicts_in_window: u32,
    pub at: String,
}

/// Side effects the host must carry out.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Persist what we know about this device (identity, highest accepted counter).
    Remember {
        ed25519: Option<String>,
        curve25519: Option<String>,
        first_seen_at: Option<u64>,
        max_accepted_counter: Option<u64>,
    },
    /// Early warning: raise this finding now.
    Finding(Finding),
    /// Once per storm: prompt the user.
    RecoveryNeeded(Box<RecoveryNeeded>),
    Recovered {
        at: u64,
    },
}

/// What the monitor knows about this device's one-time keys: its working state,
/// shown as is in `otkHealth` (next to what the snapshot derives from it).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtkState {
    pub phase: Phase,
    pub phase_since: Option<u64>,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    /// The device before a re-login, with the phase it left in.
    pub previous_device: Option<PreviousDevice>,
    pub identity: IdentityTrack,
    /// Highest one-time-key counter this browser saw the server accept for this device.
    pub max_accepted_counter: Option<u64>,
    pub uploads: Uploads,
    pub proof: Option<Proof>,
    pub trigger: Option<Trigger>,
    pub first_conflict_at: Option<u64>,
    pub last_conflict_at: Option<u64>,
    pub storm_started_at: Option<u64>,
    pub recovered_at: Option<u64>,
    pub storms: u32,
    pub recovery_events: u32,
    pub last_transient: Option<String>,
    pub breaker: Breaker,
}

#[derive(Clone, Debug, Default)]
pub struct Monitor {
    pub cfg: MonitorConfig,
    pub state: OtkState,
    pub consecutive_transient: u32,
    /// Set by the host from the storage-consistency check.
    pub store_missing: Option<bool>,
    /// Content fingerprint of the last upload sent, to key the breaker's kept 400.
    pub last_fingerprint: Option<u64>,
    /// Times of the recent conflicts on `window_key` (oldest first, at most MAX_WINDOW).
    window: VecDeque<u64>,
    window_key: String,
    /// The last upload body read and what it said. In a storm the SDK re-sends
    /// the identical body every time; it is then compared, not parsed again.
    pub upload_memo: Option<(String, crate::otk::upload::UploadRequest)>,
    // A Vec, not a VecDeque: bounded at MAX_PENDING, and one ring type less in the wasm.
    pending: Vec<(Source, String, u64)>,
    last_request: Option<(Option<u64>, Option<u64>)>,
    /// The one-time-key flood detector for the same device.
    pub flood: crate::otk::flood::Flood,
}

impl Monitor {
    pub fn new(cfg: MonitorConfig) -> Self {
        Monitor { cfg: cfg.clamped(), ..Default::default() }
    }

    /// The session's user and device. A new device (a re-login) starts a new
    /// identity track; a storm left on the old device ends with its first
    /// accepted upload (`recovered`).
    pub fn set_device(&mut self, user_id: Option<&str>, device_id: Option<&str>) {
        if let Some(u) = user_id {
            self.state.user_id = Some(u.to_owned());
        }
        let Some(d) = device_id else { return };
        match self.state.device_id.as_deref() {
            Some(cur) if cur == d => {}
            Some(cur) => {
                self.state.previous_device = Some(PreviousDevice { device_id: cur.to_owned(), phase: self.state.phase });
                self.state.device_id = Some(d.to_owned());
                self.state.identity = IdentityTrack::default();
                self.state.max_accepted_counter = None;
                self.window.clear();
                self.pending.clear();
                self.flood = Default::default();
            }
            None => self.state.device_id = Some(d.to_owned()),
        }
    }

    /// What a previous page load remembered for the current device.
    pub fn remember(&mut self, ed25519: Option<String>, first_seen_at: Option<u64>, max_accepted_counter: Option<u64>) {
        if self.state.identity.known.is_none() {
            self.state.identity.known = ed25519;
            self.state.identity.first_seen_at = first_seen_at;
        }
        self.state.max_accepted_counter = self.state.max_accepted_counter.max(max_accepted_counter);
    }

    /// The curve25519 key a previous page load remembered with the identity.
    pub fn remember_curve25519(&mut self, curve25519: Option<String>) {
        if self.state.identity.curve25519.is_none() {
            self.state.identity.curve25519 = curve25519;
        }
    }

    fn remember_event(&self) -> Event {
        Event::Remember {
            ed25519: self.state.identity.known.clone(),
            curve25519: self.state.identity.curve25519.clone(),
            first_seen_at: self.state.identity.first_seen_at,
            max_accepted_counter: self.state.max_accepted_counter,
        }
    }

    fn set_phase(&mut self, p: Phase, now: u64) {
        if self.state.phase != p {
            self.state.phase = p;
            self.state.phase_since = Some(now);
        }
    }

    /// An upload is about to be sent.
    pub fn observe_request(&mut self, req: &UploadRequest, now: u64) -> Vec<Event> {
        self.state.uploads.requests += 1;
        self.set_device(req.user_id.as_deref(), req.device_id.as_deref());
        self.last_request = Some((req.min_counter, req.max_counter));
        self.last_fingerprint = Some(req.fingerprint);
        let mut events = Vec::new();
        let Some(ed) = req.ed25519.as_deref() else { return events };
        match self.state.identity.known.as_deref() {
            None => {
                self.state.identity.known = Some(ed.to_owned());
                self.state.identity.first_seen_at = Some(now);
                self.state.identity.curve25519.clone_from(&req.curve25519);
                events.push(self.remember_event());
            }
            Some(k) if k == ed => {
                // Remembered before the curve25519 key was: learn it now.
                if self.state.identity.curve25519.is_none() && req.curve25519.is_some() {
                    self.state.identity.curve25519.clone_from(&req.curve25519);
                    events.push(self.remember_event());
                }
            }
            Some(k) => {
                self.state.identity.replaced_by_curve25519.clone_from(&req.curve25519);
                if self.state.identity.replaced_by.as_deref() != Some(ed) {
                    self.state.identity.replaced_by = Some(ed.to_owned());
                    self.state.identity.replaced_at = Some(now);
                    events.push(Event::Finding(self.identity_finding(k, ed, now)));
                }
            }
        }
        events
    }

    fn identity_finding(&self, old: &str, new: &str, now: u64) -> Finding {
        let dev = self.state.device_id.as_deref().unwrap_or("unknown");
        let store = match self.store_missing {
            Some(true) => " The crypto store was missing when the app started, which explains the new identity.",
            _ => "",
        };
        Finding {
            id: "device_identity_replaced".into(),
            ke: Some(Class::Ke1),
            level: Level::Critical,
            title: "new identity uploaded under an old device id: KE-1 is about to start".into(),
            detail: format!("Device {dev} first uploaded ed25519 identity {old} and now uploads {new}. The local Olm account was \
                 re-created (store evicted or reset) without a new login. Synapse stores the new device keys before it \
                 checks one-time keys, so peers hold one-time keys signed by the old identity, and the server still holds \
                 one-time key ids this account will reuse: expect 400 \"One time key … already exists\" on every upload.{store} Only a new device (sign out, sign in) fixes this."),
            ts: now,
            at: iso8601(now),
            evidence: obj!({ "userId": self.state.user_id.clone(), "deviceId": self.state.device_id.clone(), "previousEd25519": old, "newEd25519": new, "previousFirstSeenAt": self.state.identity.first_seen_at.map(iso8601), "storeMissing": self.store_missing }),
        }
    }

    /// The server answered an upload (HTTP path), or the console reported it.
    pub fn observe_outcome(&mut self, outcome: &UploadOutcome, source: Source, now: u64) -> Vec<Event> {
        match outcome {
            UploadOutcome::Accepted { .. } => self.accepted(now),
            UploadOutcome::Conflict(c) => self.conflict(c, source, now),
            UploadOutcome::Rejected { .. } => {
                self.state.uploads.rejected += 1;
                Vec::new()
            }
            UploadOutcome::Transient { reason, .. } => {
                self.state.uploads.transient += 1;
                self.consecutive_transient += 1;
                self.state.last_transient = Some(reason.clone());
                Vec::new()
            }
        }
    }

    fn accepted(&mut self, now: u64) -> Vec<Event> {
        self.state.uploads.accepted += 1;
        self.consecutive_transient = 0;
        let mut events = Vec::new();
        if let Some((_, Some(max))) = self.last_request.take() {
            if self.state.max_accepted_counter.is_none_or(|m| max > m) {
                self.state.max_accepted_counter = Some(max);
                events.push(self.remember_event());
            }
        }
        let left_storm = self.state.previous_device.as_ref().is_some_and(|p| matches!(p.phase, Phase::Failing | Phase::Storm));
        if matches!(self.state.phase, Phase::Failing | Phase::Storm) || left_storm {
            self.set_phase(Phase::Recovered, now);
            self.state.recovered_at = Some(now);
            self.state.breaker.disarm();
            self.window.clear();
            if let Some(p) = &mut self.state.previous_device {
                p.phase = Phase::Recovered;
            }
            events.push(Event::Recovered { at: now });
        }
        events
    }

    fn conflict(&mut self, c: &OtkConflict, source: Source, now: u64) -> Vec<Event> {
        // Paired with the same conflict from the other path: counts once.
        if let Some(i) = self.pending.iter().position(|(s, id, t)| *s != source && *id == c.key_id && now.saturating_sub(*t) <= DEDUPE_MS) {
            self.pending.remove(i);
            self.state.uploads.duplicates += 1;
            if self.state.proof.as_ref().is_some_and(|p| p.diverged.is_none() && c.diverged.is_some()) {
                self.state.proof = Some(Proof::from_conflict(c, source, now));
            }
            return Vec::new();
        }
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push((source, c.key_id.clone(), now));

        self.state.uploads.conflicts += 1;
        self.consecutive_transient = 0;
        self.state.first_conflict_at.get_or_insert(now);
        self.state.last_conflict_at = Some(now);
        self.state.proof = Some(Proof::from_conflict(c, source, now));
        self.state.trigger = Some(self.assess_trigger(c));

        let horizon = now.saturating_sub(self.cfg.storm_window_ms);
        // The window is per key id: a conflict on another id starts it afresh.
        if self.window_key != c.key_id {
            self.window.clear();
            self.window_key.clone_from(&c.key_id);
        }
        while self.window.front().is_some_and(|t| *t < horizon) {
            self.window.pop_front();
        }
        if self.window.len() >= MAX_WINDOW {
            self.window.pop_front();
        }
        self.window.push_back(now);
        let in_window = self.window.len() as u32;

        if self.state.phase == Phase::Storm {
            return Vec::new();
        }
        if in_window < self.cfg.storm_threshold {
            self.set_phase(Phase::Failing, now);
            return Vec::new();
        }
        self.set_phase(Phase::Storm, now);
        self.state.storm_started_at = Some(now);
        self.state.storms += 1;
        self.state.recovery_events += 1;
        self.state.breaker.arm(now);
        vec![Event::RecoveryNeeded(Box::new(RecoveryNeeded {
            user_id: self.state.user_id.clone(),
            device_id: self.state.device_id.clone(),
            outcome: self.outcome(),
            proof: self.state.proof.clone(),
            trigger: self.state.trigger.clone(),
            recommendation: recommendation(self.state.trigger.as_ref().map_or(TriggerKind::Unknown, |t| t.kind)),
            storm_started_at: now,
            conflicts_in_window: in_window,
            at: iso8601(now),
        }))]
    }

    /// Which way the store diverged, from the evidence at hand (vodozemac's KeyId: a per-account counter from 0, unpadded base64 of 8 big-endian bytes).
    pub fn assess_trigger(&self, c: &OtkConflict) -> Trigger {
        let mut facts = Vec::new();
        let replaced = self.state.identity.replaced_by.is_some();
        if let (Some(old), Some(new)) = (&self.state.identity.known, &self.state.identity.replaced_by) {
            facts.push(format!("this device id uploaded a new ed25519 identity ({new}) after {old}: the account was re-created"));
        }
        if self.store_missing == Some(true) {
            facts.push("the rust crypto store was missing at start while the session was kept".to_owned());
        }
        let first_batch = c.counter.is_some_and(|n| n < FIRST_BATCH);
        if let Some(n) = c.counter {
            if first_batch {
                facts.push(format!("key id {} decodes to counter {n}: inside a new account's first batch of {FIRST_BATCH}", c.key_id));
            } else {
                facts.push(format!("key id {} decodes to counter {n}: past a new account's first batch", c.key_id));
            }
        }
        let rolled_back = matches!((c.counter, self.state.max_accepted_counter), (Some(n), Some(m)) if n <= m);
        if let (true, Some(m)) = (rolled_back, self.state.max_accepted_counter) {
            facts.push(format!(
                "this browser earlier saw ids up to counter {m} accepted for this device: the local account went back in time"
            ));
        }
        let same_identity = self.state.identity.known.is_some() && !replaced;
        if same_identity {
            facts.push("the identity key uploaded by this device has not changed".to_owned());
        }
        let kind = if replaced || self.store_missing == Some(true) {
            TriggerKind::AccountRecreated
        } else if same_identity && (rolled_back || !first_batch) {
            TriggerKind::ConcurrentWriter
        } else if first_batch && !same_identity {
            TriggerKind::AccountRecreated
        } else {
            TriggerKind::Unknown
        };
        Trigger { kind, facts }
    }

    pub fn outcome(&self) -> Outcome {
        if self.state.identity.replaced_by.is_some() {
            Outcome::Unrecoverable
        } else if matches!(self.state.phase, Phase::Failing | Phase::Storm) {
            Outcome::Diverged
        } else if self.flood.flooding() {
            Outcome::Flooding
        } else if self.consecutive_transient > 0 {
            Outcome::Retrying
        } else {
            Outcome::Healthy
        }
    }

    /// Everything `otkHealth()` and the report show.
    pub fn snapshot(&self) -> OtkHealth {
        let outcome = self.outcome();
        OtkHealth {
            outcome,
            state: self.state.clone(),
            conflicts_in_window: self.window.len() as u32,
            recommendation: matches!(outcome, Outcome::Diverged | Outcome::Unrecoverable)
                .then(|| recommendation(self.state.trigger.as_ref().map_or(TriggerKind::Unknown, |t| t.kind))),
            config: self.cfg,
            flood: self.flood.report(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousDevice {
    pub device_id: String,
    pub phase: Phase,
}

/// The outcome with its evidence; timestamps are Unix ms. The monitor's state
/// is inlined (its fields sit beside the ones derived at snapshot time).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtkHealth {
    pub outcome: Outcome,
    #[serde(flatten)]
    pub state: OtkState,
    pub conflicts_in_window: u32,
    pub recommendation: Option<Recommendation>,
    pub config: MonitorConfig,
    /// The one-time-key flood detector (`null` until a `/sync` count or an
    /// upload was seen; absent in reports written before it existed).
    #[serde(default)]
    pub flood: Option<crate::otk::flood::FloodState>,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Healthy => "healthy",
            Phase::Failing => "failing",
            Phase::Storm => "storm",
            Phase::Recovered => "recovered",
        }
    }
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Healthy => "healthy",
            Outcome::Retrying => "retrying",
            Outcome::Diverged => "diverged",
            Outcome::Unrecoverable => "unrecoverable",
            Outcome::Flooding => "flooding",
        }
    }
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Http => "http",
            Source::Console => "console",
        }
    }
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::AccountRecreated => "account_recreated",
            TriggerKind::ConcurrentWriter => "concurrent_writer",
            TriggerKind::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otk::upload::{parse_request, parse_response};

    fn conflict_body(key_id: &str) -> String {
        format!(
            r#"{{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:{key_id} already exists. Old key: {{\"key\":\"OLD\",\"signatures\":{{}}}}; new key: {{'key': 'NEW', 'signatures': {{}}}}"}}"#
        )
    }

    fn conflict(key_id: &str) -> UploadOutcome {
        parse_response(Some(400), Some(&conflict_body(key_id)), None)
    }

    fn ok() -> UploadOutcome {
        parse_response(Some(200), Some(r#"{"one_time_key_counts":{"signed_curve25519":50}}"#), None)
    }

    fn upload(ed: Option<&str>, ids: &[&str]) -> UploadRequest {
        let dk = ed
            .map_or(String::new(), |e| format!(r#""device_keys":{{"user_id":"@a:hs","device_id":"DEV","keys":{{"ed25519:DEV":"{e}"}}}},"#));
        let otks: Vec<String> = ids.iter().map(|i| format!(r#""signed_curve25519:{i}":{{"key":"k{i}"}}"#)).collect();
        parse_request(&format!("{{{dk}\"one_time_keys\":{{{}}}}}", otks.join(",")))
    }

    #[test]
    fn healthy_failing_storm_recovered_with_one_event_per_storm() {
        let mut m = Monitor::new(MonitorConfig::default());
        assert_eq!((m.state.phase, m.outcome()), (Phase::Healthy, Outcome::Healthy));
        assert!(m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 1_000).is_empty());
        assert_eq!((m.state.phase, m.outcome()), (Phase::Failing, Outcome::Diverged));
        assert!(m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 20_000).is_empty());
        let ev = m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 40_000);
        assert_eq!(m.state.phase, Phase::Storm);
        let Event::RecoveryNeeded(r) = &ev[0] else { panic!("{ev:?}") };
        assert_eq!(r.conflicts_in_window, 3);
        assert_eq!(r.proof.as_ref().unwrap().counter, Some(13));
        assert_eq!(r.recommendation.id, "relogin_new_device");
        // The storm goes on: no more events.
        for t in 0..100 {
            assert!(m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 41_000 + t * 50).is_empty());
        }
        assert_eq!((m.state.storms, m.state.recovery_events, m.state.uploads.conflicts), (1, 1, 103));
        assert!(m.state.breaker.armed);
        let ev = m.observe_outcome(&ok(), Source::Http, 100_000);
        assert_eq!(ev, vec![Event::Recovered { at: 100_000 }]);
        assert_eq!((m.state.phase, m.outcome()), (Phase::Recovered, Outcome::Healthy));
        assert!(!m.state.breaker.armed);
        // A second storm gets its own single event.
        let n: usize = (0..5).map(|i| m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 200_000 + i).len()).sum();
        assert_eq!((n, m.state.storms), (1, 2));
    }

    #[test]
    fn window_is_per_key_id_and_time_bounded() {
        let mut m = Monitor::new(MonitorConfig::default());
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 0);
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 1);
        m.observe_outcome(&conflict("AAAAAAAAAA4"), Source::Http, 2);
        assert_eq!(m.state.phase, Phase::Failing, "a different key id restarts the count");
        let mut m = Monitor::new(MonitorConfig::default());
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 0);
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 300_000);
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 600_001);
        assert_eq!(m.state.phase, Phase::Failing, "the first fell out of the 10 min window");
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 600_002);
        assert_eq!(m.state.phase, Phase::Storm);
    }

    #[test]
    fn a_fast_loop_keeps_the_window_bounded() {
        // 200k conflicts inside one window (a 20 Hz loop for hours, or a console flood).
        let mut m = Monitor::new(MonitorConfig { storm_threshold: 1000, ..Default::default() });
        let c = conflict("AAAAAAAAAA0");
        let mut events = 0;
        for t in 0..200_000u64 {
            events += m.observe_outcome(&c, Source::Http, t).len();
            assert!(m.window.len() <= MAX_WINDOW);
        }
        assert_eq!((events, m.state.phase), (1, Phase::Storm), "the 1000th conflict started the storm");
        assert_eq!(m.snapshot().conflicts_in_window as usize, MAX_WINDOW, "saturates");
    }

    #[test]
    fn both_paths_count_once() {
        let mut m = Monitor::new(MonitorConfig { storm_threshold: 2, ..Default::default() });
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 0);
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Console, 30);
        assert_eq!((m.state.uploads.conflicts, m.state.uploads.duplicates, m.state.phase), (1, 1, Phase::Failing));
        // Console first works too; a console line long after is a new conflict.
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Console, 50_000);
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 50_010);
        assert_eq!((m.state.uploads.conflicts, m.state.uploads.duplicates, m.state.phase), (2, 2, Phase::Storm));
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Console, 90_000);
        assert_eq!(m.state.uploads.conflicts, 3);
    }

    #[test]
    fn identity_change_is_an_early_warning_and_unrecoverable() {
        let mut m = Monitor::new(MonitorConfig::default());
        let ev = m.observe_request(&upload(Some("ED1"), &["AAAAAAAAAAA"]), 10);
        assert!(matches!(&ev[0], Event::Remember { ed25519: Some(e), .. } if e == "ED1"));
        m.observe_outcome(&ok(), Source::Http, 11);
        assert_eq!(m.state.max_accepted_counter, Some(0));
        assert!(m.observe_request(&upload(Some("ED1"), &[]), 12).is_empty());
        // Reload after eviction: what was remembered comes back, a new identity goes up.
        let mut m2 = Monitor::new(MonitorConfig::default());
        m2.set_device(Some("@a:hs"), Some("DEV"));
        m2.remember(Some("ED1".into()), Some(10), Some(49));
        m2.store_missing = Some(true);
        let ev = m2.observe_request(&upload(Some("ED2"), &["AAAAAAAAAAA"]), 20);
        let Event::Finding(f) = &ev[0] else { panic!("{ev:?}") };
        assert_eq!((f.id.as_str(), f.level), ("device_identity_replaced", Level::Critical));
        assert_eq!(f.evidence["previousEd25519"], "ED1");
        assert_eq!(m2.outcome(), Outcome::Unrecoverable, "before any conflict");
        m2.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 21);
        let t = m2.state.trigger.clone().unwrap();
        assert_eq!(t.kind, TriggerKind::AccountRecreated);
        assert!(t.facts.iter().any(|f| f.contains("counter 13")), "{t:?}");
        // Repeating the new identity does not raise it again.
        assert!(m2.observe_request(&upload(Some("ED2"), &[]), 22).is_empty());
    }

    #[test]
    fn triggers() {
        // Same identity, an id we had seen accepted: a second writer rolled us back.
        let mut m = Monitor::new(MonitorConfig::default());
        m.remember(Some("ED".into()), Some(0), Some(120));
        m.observe_outcome(&conflict("AAAAAAAAAUM"), Source::Http, 1); // counter 323 > 120
        assert_eq!(m.state.trigger.as_ref().unwrap().kind, TriggerKind::ConcurrentWriter, "past the first batch, same identity");
        let mut m = Monitor::new(MonitorConfig::default());
        m.remember(Some("ED".into()), Some(0), Some(120));
        m.observe_outcome(&conflict("AAAAAAAAABA"), Source::Http, 1); // counter 16 <= 120
        assert_eq!(m.state.trigger.as_ref().unwrap().kind, TriggerKind::ConcurrentWriter, "rolled back");
        // Nothing remembered, first-batch id: a re-created account.
        let mut m = Monitor::new(MonitorConfig::default());
        m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, 1);
        assert_eq!(m.state.trigger.as_ref().unwrap().kind, TriggerKind::AccountRecreated);
        // Nothing remembered, a mid-range id: we cannot tell.
        let mut m = Monitor::new(MonitorConfig::default());
        m.observe_outcome(&conflict("AAAAAAAAAUM"), Source::Http, 1);
        assert_eq!(m.state.trigger.as_ref().unwrap().kind, TriggerKind::Unknown);
    }

    #[test]
    fn relogin_on_a_new_device_recovers_the_old_storm() {
        let mut m = Monitor::new(MonitorConfig::default());
        m.set_device(Some("@a:hs"), Some("OLD"));
        for t in 0..3 {
            m.observe_outcome(&conflict("AAAAAAAAAA0"), Source::Http, t);
        }
        assert_eq!(m.state.phase, Phase::Storm);
        m.set_device(Some("@a:hs"), Some("NEW"));
        let first = r#"{"device_keys":{"user_id":"@a:hs","device_id":"NEW","keys":{"ed25519:NEW":"EDNEW"}},"one_time_keys":{"signed_curve25519:AAAAAAAAAAA":{"key":"k"}}}"#;
        m.observe_request(&parse_request(first), 10);
        let ev = m.observe_outcome(&ok(), Source::Http, 11);
        assert!(ev.contains(&Event::Recovered { at: 11 }));
        let s = m.snapshot();
        assert_eq!((s.outcome, s.state.phase, s.state.device_id.as_deref()), (Outcome::Healthy, Phase::Recovered, Some("NEW")));
        assert_eq!(s.state.previous_device.unwrap().phase, Phase::Recovered);
    }

    #[test]
    fn transient_failures_mean_retrying() {
        let mut m = Monitor::new(MonitorConfig::default());
        m.observe_outcome(&parse_response(None, None, Some("TypeError: Failed to fetch")), Source::Http, 1);
        assert_eq!(m.outcome(), Outcome::Retrying);
        m.observe_outcome(&ok(), Source::Http, 2);
        assert_eq!(m.outcome(), Outcome::Healthy);
        m.observe_outcome(&parse_response(Some(401), Some("{}"), None), Source::Http, 3);
        assert_eq!((m.outcome(), m.state.uploads.rejected), (Outcome::Healthy, 1));
    }
}
