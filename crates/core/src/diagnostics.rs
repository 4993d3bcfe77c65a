//! The one aggregate: every observation enters here with its time, every
//! decision is taken here, and every output (entries, counts, `otkHealth()`,
//! the report) reads this one state.
//!
//! The browser side calls an entry point, then carries out the [`Effect`]s it
//! returns (persist a fact, fire an event): it decides nothing itself. A
//! one-time-key conflict seen on both the HTTP and the console path is counted
//! once, because the monitor is asked first and the journal told what it said.

use crate::environment::crypto_store::{self, StoreFacts, StoreName, KNOWN_DATABASES};
use crate::environment::tab_guard::TabGuard;
use crate::evidence::classify::{classify, Classified};
use crate::evidence::decryption::{Failure, UtdTracker};
use crate::evidence::http::{endpoint_of, path_of, Endpoint, HttpStats};
use crate::evidence::journal::{Config, Entry, Journal};
use crate::evidence::peer_keys::{LineFact, PeerMonitor, ToDeviceEvent};
use crate::evidence::signature::SIGNATURES;
use crate::evidence::sync::SyncFacts;
use crate::evidence::widget::{CallEvidence, CallMonitor};
use crate::otk::breaker::{Decision, KeptResponse};
use crate::otk::conflict::{self, OtkConflict};
use crate::otk::flood::is_cap_refusal;
use crate::otk::health::{Event, Monitor, MonitorConfig, OtkHealth, RecoveryNeeded, Source};
use crate::otk::upload::{parse_request, parse_response, UploadOutcome};
use crate::report::finding::Finding;
use crate::report::health::Health;
use crate::report::{Context, CryptoStore, Report, Storage};
use crate::support::map::SortedMap;
use crate::support::obj;
use crate::support::text::iso8601;
use serde::{Deserialize, Serialize};

const OTK_CONFLICT: &str = "ke1.otk_conflict";
/// Upload bodies above this are parsed every time rather than kept (memory).
const MAX_MEMO_BYTES: usize = 256 * 1024;

/// One finished HTTP exchange as the fetch tap saw it.
#[derive(Clone, Debug, Default)]
pub struct Exchange<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// `None`: the fetch failed (network error or abort).
    pub status: Option<u16>,
    pub status_text: &'a str,
    pub content_type: Option<&'a str>,
    pub aborted: bool,
    pub duration_ms: u64,
    /// Read from a clone, only for endpoints whose body matters. For `/sync`
    /// it is the tap's summary ([`SyncFacts::from_summary`]), not the answer itself.
    pub response_body: Option<&'a str>,
    /// The fetch rejection, rendered (`TypeError: Failed to fetch`, `AbortError: …`).
    pub error: Option<&'a str>,
    /// The storm breaker answered it; the server never saw it.
    pub answered_locally: bool,
    /// The tap could not read the body it wanted.
    pub body_error: bool,
    /// A failed answer whose body the tap left unread: longer than its cap
    /// (declared or found), or of unknown length once one such body overran it
    /// (a clone makes Chromium buffer the whole stream for the app's branch).
    pub body_not_read: bool,
}

/// What this browser remembers about one device across page loads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceMemory {
    pub ed25519: Option<String>,
    /// The identity's curve25519 key (peers encrypt to-device messages to it).
    pub curve25519: Option<String>,
    pub first_seen_at: Option<u64>,
    pub max_accepted_counter: Option<u64>,
}

impl DeviceMemory {
    /// Reads what [`Effect::RememberDevice`] stored (an object), as the
    /// derived `Deserialize` would (a field of the wrong type rejects the
    /// whole record), but through `serde_json::Value`: a typed deserializer in the
    /// wasm pulls in serde's error texts and with them float formatting.
    pub fn from_json(text: &str) -> Option<DeviceMemory> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let o = v.as_object()?;
        let field = |k: &str| o.get(k).filter(|x| !x.is_null());
        let number = |k: &str| field(k).map(|x| x.as_u64().ok_or(())).transpose();
        Some(DeviceMemory {
            ed25519: field("ed25519").map(|x| x.as_str().map(String::from).ok_or(())).transpose().ok()?,
            curve25519: field("curve25519").map(|x| x.as_str().map(String::from).ok_or(())).transpose().ok()?,
            first_seen_at: number("firstSeenAt").ok()?,
            max_accepted_counter: number("maxAcceptedCounter").ok()?,
        })
    }
}

/// What the persistent-storage probe found (the browser side asks).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StorageProbe {
    /// `persisted` | `not_persisted` | `unsupported` | `unknown`.
    pub status: Option<String>,
    pub persisted: Option<bool>,
    pub requested: bool,
    pub usage: Option<u64>,
    pub quota: Option<u64>,
    pub notes: Vec<String>,
}

/// What the crypto-store check found in the browser.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreProbe {
    pub session_present: bool,
    /// localStorage could be read at all.
    pub session_readable: bool,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    /// IndexedDB names; `None` when they cannot be listed, with `why`.
    pub databases: Option<Vec<String>>,
    pub why_unlisted: Option<String>,
    /// When this browser last saw the store for this session.
    pub seen_at: Option<u64>,
    /// The store's `cryptoDatabasePrefix` remembered for this session (a fork's own name).
    pub remembered_prefix: Option<String>,
    /// When an earlier page load found this session's store evicted (remembered).
    pub evicted_at: Option<u64>,
}

/// Side effects for the browser side to carry out, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Persist what we know of this device (localStorage), for the next page load.
    RememberDevice { user_id: String, device_id: String, memory: DeviceMemory },
    /// Persist that the crypto store existed for this session at `at`, and under which prefix.
    RememberStoreSeen { user_id: Option<String>, device_id: Option<String>, at: u64, prefix: String },
    /// Persist that the session's crypto store was found evicted at `at`: later page loads,
    /// where rust crypto has re-created it, still report the cause.
    RememberEviction { user_id: Option<String>, device_id: Option<String>, at: u64 },
    /// Once per upload storm: prompt the user (callbacks, window event).
    RecoveryNeeded(Box<RecoveryNeeded>),
    /// The storm ended: close the prompt.
    Recovered,
}

/// What the storm breaker says about an upload about to leave.
#[derive(Clone, Debug, PartialEq)]
pub struct UploadAnswer {
    pub decision: Decision,
    /// The kept 400 to answer with, when the decision is to answer locally.
    pub kept: Option<KeptResponse>,
    pub effects: Vec<Effect>,
}

/// What the JavaScript taps counted on their own: the wasm only hears the
/// console lines that pass the prefilter, and never the taps' own failures.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TapCounters {
    /// Every console call the tap saw; `None` while no console tap runs.
    pub console_seen: Option<u64>,
    /// Failures inside the console tap, and lines it had to drop.
    pub console_errors: u64,
    /// String arguments too long to read (counted, not read).
    pub args_not_read: u64,
    /// Failures inside the fetch tap.
    pub http_errors: u64,
}

/// The whole diagnosis of one page.
#[derive(Debug, Default)]
pub struct Diagnostics {
    journal: Journal,
    otk: Monitor,
    http: HttpStats,
    storage: Option<Storage>,
    tab_guard: TabGuard,
    console_installed: bool,
    /// What the JavaScript taps counted outside the wasm.
    taps: TapCounters,
    /// The last upload body read and what it said. In a storm the SDK re-sends
    /// the identical body every time; it is then compared, not parsed again.
    upload_memo: Option<(String, crate::otk::upload::UploadRequest)>,
    stopped_after_error: Option<String>,
    /// Why messages fail to decrypt (the SDK's decryption events).
    utd: UtdTracker,
    /// The host↔call-frame widget API traffic.
    call: CallMonitor,
    /// Keys between this device and each peer (to-device events, the SDK's lines).
    peers: PeerMonitor,
    /// What the console tap said about frames and its early buffer.
    tap_frames: (Vec<crate::report::FrameNote>, u64, u64),
}

impl Diagnostics {
    pub fn new(cfg: Config) -> Self {
        Diagnostics { journal: Journal::new(cfg), ..Default::default() }
    }

    // ---------------------------------------------------------------- configuration

    /// The console tap is on, with this journal configuration (entries already
    /// kept stay when only the configuration changes).
    pub fn console_installed(&mut self, cfg: Config) {
        // A journal that has seen nothing yet takes the new configuration.
        if self.journal.is_empty() && self.journal.lines_seen == 0 {
            let redactions = self.journal.redactions.zeroed();
            self.journal = Journal::new(cfg);
            self.journal.redactions = redactions;
        }
        self.console_installed = true;
    }

    /// Key the report's mask fingerprints (random, from the page). Set once:
    /// a report's fingerprints only match each other under one key.
    pub fn set_redaction_key(&mut self, key: [u8; 16]) {
        if !self.journal.redactions.keyed() {
            self.journal.redactions.set_key(Some(key));
        }
    }

    pub fn console_uninstalled(&mut self) {
        self.console_installed = false;
    }

    pub fn is_console_installed(&self) -> bool {
        self.console_installed
    }

    /// The fetch tap is on (or its options changed).
    pub fn http_installed(&mut self, cfg: MonitorConfig, break_upload_storm: bool) {
        self.otk.cfg = cfg.clamped();
        self.otk.state.breaker.enabled = break_upload_storm;
        self.http.breaker_enabled = break_upload_storm;
        self.http.installed = true;
    }

    pub fn http_uninstalled(&mut self) {
        self.http.installed = false;
    }

    /// Forget entries and counts (not configuration).
    pub fn clear(&mut self) {
        self.journal.clear();
    }

    // ---------------------------------------------------------------- observations

    /// A console line (already rendered) or a window error. Returns the entry it
    /// was stored in (or folded into), if it matched a signature.
    pub fn console_line(&mut self, level: &str, message: &str, now: u64) -> (Option<Entry>, Vec<Effect>) {
        self.console_line_from(level, message, crate::evidence::journal::HOST, now)
    }

    /// [`console_line`](Self::console_line) for a line logged in `source`: the
    /// host, or a frame (`frame:` and its id or address).
    pub fn console_line_from(&mut self, level: &str, message: &str, source: &str, now: u64) -> (Option<Entry>, Vec<Effect>) {
        self.journal.lines_seen += 1;
        let Some(c) = classify(message) else { return (None, Vec::new()) };
        let (counted, effects) = match conflict::parse(message).filter(|_| c.signature.id == OTK_CONFLICT) {
            Some(conflict) => self.conflict(&conflict, Source::Console, now),
            None => (true, Vec::new()),
        };
        let fact = match c.signature.id {
            "ke2.olm_missing_ciphertext" => Some(LineFact::MissingCiphertext),
            "ke2.call_key_delivered" => Some(LineFact::CallKeyArrived),
            "ke2.peer_unreachable" | "ke2.peer_unreachable_text" => Some(LineFact::Unreachable),
            "ke1.peer_identity_refused" => Some(LineFact::IdentityRefused),
            _ => None,
        };
        if let Some(fact) = fact {
            let field = |k: &str| c.fields.get(k).and_then(serde_json::Value::as_str);
            let user = field("user_id").or_else(|| field("sender"));
            self.peers.line(fact, user, field("device_id"), field("sender_key"), field("message_id"));
        }
        let entry = self.journal.store_from(level, message, source, c, now, counted).clone();
        (Some(entry), effects)
    }

    /// One to-device event of a `/sync` answer: an Olm event encrypted for a
    /// key this device no longer has is a key that will never decrypt here.
    pub fn to_device(&mut self, e: &ToDeviceEvent, _now: u64) {
        let ours = self.otk.state.identity.current_curve25519().map(str::to_owned);
        self.peers.to_device(e, ours.as_deref());
    }

    /// One widget API message between the host and a call frame (a `message`
    /// event's data as JSON text), observed, never answered.
    pub fn widget_message(&mut self, text: &str, now: u64) {
        self.call.message(text, &mut self.journal.redactions, now);
    }

    /// Does the monitor need what this browser remembers of this device? True
    /// when the session names a device the monitor does not follow yet.
    pub fn wants_device_memory(&self, device_id: &str) -> bool {
        self.otk.state.device_id.as_deref() != Some(device_id)
    }

    /// The session's user and device, with what an earlier page load remembered.
    pub fn session_device(&mut self, user_id: &str, device_id: &str, memory: Option<DeviceMemory>) {
        if !self.wants_device_memory(device_id) {
            return;
        }
        self.otk.set_device(Some(user_id), Some(device_id));
        let m = memory.unwrap_or_default();
        self.otk.remember(m.ed25519, m.first_seen_at, m.max_accepted_counter);
        self.otk.remember_curve25519(m.curve25519);
    }

    /// A keys/upload is about to leave: read its body, follow the identity, and
    /// ask the storm breaker.
    pub fn before_upload(&mut self, body: &str, now: u64) -> UploadAnswer {
        let (text, req) = match self.upload_memo.take() {
            Some((text, req)) if text == body => (text, req),
            _ => (body.to_owned(), parse_request(body)),
        };
        let events = self.otk.observe_request(&req, now);
        self.otk.flood.upload(req.one_time_key_ids.len());
        let decision = self.otk.state.breaker.decide(req.fingerprint, now);
        if text.len() <= MAX_MEMO_BYTES {
            self.upload_memo = Some((text, req));
        }
        let kept = (decision == Decision::AnswerLocally).then(|| self.otk.state.breaker.kept.clone()).flatten();
        UploadAnswer { decision, kept, effects: self.apply(events) }
    }

    /// A finished exchange on a watched endpoint.
    pub fn exchange(&mut self, ex: &Exchange, now: u64) -> Vec<Effect> {
        if ex.body_error {
            self.http.body_read_errors += 1;
        }
        let Some((endpoint, detail)) = endpoint_of(ex.method, ex.url) else { return Vec::new() };
        if ex.body_not_read {
            match endpoint {
                Endpoint::Sync => self.http.sync_bodies_not_read += 1,
                _ => self.http.bodies_not_read += 1,
            }
        }
        let stats = self.http.endpoint_mut(endpoint);
        if ex.answered_locally {
            stats.answered_locally += 1;
            return Vec::new();
        }
        stats.record(ex.status, ex.aborted, ex.duration_ms, detail.as_deref(), now);
        match endpoint {
            Endpoint::KeysUpload => self.keys_upload(ex, now),
            Endpoint::DelayedEvents => {
                self.delayed_events(ex, now);
                Vec::new()
            }
            Endpoint::SendToDevice => Vec::new(),
            Endpoint::Sync => match ex.response_body {
                Some(summary) => self.sync(&SyncFacts::from_summary(summary), now),
                None => Vec::new(),
            },
        }
    }

    /// What one `/sync` answer said (the tap's summary): the server's
    /// one-time-key counts and the to-device events it delivered.
    pub fn sync(&mut self, facts: &SyncFacts, now: u64) -> Vec<Effect> {
        self.otk.flood.sync(facts.signed_curve25519());
        for e in &facts.to_device {
            let e = ToDeviceEvent {
                event_type: &e.event_type,
                sender: e.sender.as_deref(),
                algorithm: e.algorithm.as_deref(),
                sender_key: e.sender_key.as_deref(),
                recipient_keys: &e.recipient_keys,
                msgid: e.msgid.as_deref(),
            };
            self.to_device(&e, now);
        }
        Vec::new()
    }

    /// What the persistent-storage probe found.
    pub fn storage_probe(&mut self, p: StorageProbe) -> &Storage {
        let prev = self.storage.take().unwrap_or_default();
        let estimate = (p.usage.is_some() || p.quota.is_some()).then_some(crate::report::Estimate { usage: p.usage, quota: p.quota });
        self.storage.insert(Storage {
            status: p.status.unwrap_or_else(|| "unknown".into()),
            persisted: p.persisted,
            requested: p.requested || prev.requested,
            estimate,
            crypto_store: prev.crypto_store,
            notes: p.notes,
        })
    }

    /// What the crypto-store check found: records the store's state and, when
    /// a live session lost its store, the finding (also returned).
    pub fn crypto_store_probe(&mut self, p: StoreProbe, storage: StorageProbe, now: u64) -> (Option<Finding>, Vec<Effect>) {
        let persisted = storage.persisted;
        self.storage_probe(storage);
        let name = StoreName::resolve(p.databases.as_deref(), p.user_id.as_deref(), p.remembered_prefix.as_deref());
        let mut facts = StoreFacts {
            session_present: p.session_present,
            user_id: p.user_id.clone(),
            device_id: p.device_id.clone(),
            databases: p.databases,
            store_seen_at: p.seen_at,
            persisted,
            checked_at: now,
            store: name.clone(),
        };
        let present = facts.has(&name.main());
        let mut effects = Vec::new();
        // Remember that the store existed for this session, and its name: its later absence is
        // then eviction, not doubt, and a fork's own name is looked for even once it is gone.
        if p.session_present && present == Some(true) && (p.seen_at.is_none() || p.remembered_prefix.is_none()) {
            let at = p.seen_at.unwrap_or(now);
            effects.push(Effect::RememberStoreSeen { user_id: p.user_id, device_id: p.device_id, at, prefix: name.prefix.clone() });
        }
        let mut databases = SortedMap::new();
        databases.extend(KNOWN_DATABASES.iter().filter_map(|n| Some(((*n).to_owned(), facts.has(n)?))));
        for n in [name.main(), name.meta()] {
            if let Some(there) = facts.has(&n) {
                databases.insert(n, there);
            }
        }
        let store = CryptoStore {
            present,
            name: Some(name.main()),
            databases,
            checked_at: Some(iso8601(now)),
            seen_at: p.seen_at.or(if present == Some(true) { Some(now) } else { None }).map(iso8601),
        };
        let storage = self.storage.get_or_insert_with(Storage::default);
        storage.crypto_store = store;
        if facts.databases.is_none() {
            storage.notes.push(format!("crypto store presence unknown: {}", p.why_unlisted.as_deref().unwrap_or("no answer")));
        }
        if !p.session_readable {
            storage.notes.push("localStorage is unavailable: session presence unknown".into());
        }
        let finding = crypto_store::assess(&facts);
        // Seen before, gone now: an eviction (critical), not doubt.
        if let (Some(_), Some(_), None) = (&finding, p.seen_at, p.evicted_at) {
            effects.push(Effect::RememberEviction { user_id: facts.user_id.clone(), device_id: facts.device_id.clone(), at: now });
        }
        // An earlier page load saw the eviction and rust crypto has since re-created the store
        // under the same device: the cause of what follows (KE-1) is still reported.
        if let (None, Some(at), Some(true)) = (&finding, p.evicted_at, present) {
            if !self.journal.findings.iter().any(|f| f.id == "crypto_store_missing") {
                // The facts as that load found them: the store absent, at `at`.
                let listed = facts.databases.replace(Vec::new());
                let checked = std::mem::replace(&mut facts.checked_at, at);
                if let Some(f) = crypto_store::assess(&facts) {
                    self.journal.add_finding(f);
                }
                (facts.databases, facts.checked_at) = (listed, checked);
            }
        }
        // The monitor explains a new identity with it. A later check adds to the evidence and
        // never erases it: a store present again was re-created (same device: by rust crypto
        // under the old device id, the eviction's consequence) or belongs to a new login.
        self.otk.store_missing = Some(match &finding {
            Some(f) => {
                self.journal.add_finding(f.clone());
                true
            }
            None if present == Some(true) => self.journal.store_present_again(facts.user_id.as_deref(), facts.device_id.as_deref(), now),
            None => false,
        });
        (finding, effects)
    }

    /// The tab guard's current state, as the browser side keeps it.
    pub fn tab_guard(&mut self, state: TabGuard) {
        self.tab_guard = state;
    }

    /// What the JavaScript taps counted on their own, read just before a report.
    pub fn tap_counters(&mut self, counters: TapCounters) {
        self.taps = counters;
    }

    /// The SDK's decryption events are watched (or no longer).
    pub fn decryption_watch(&mut self, on: bool) {
        self.utd.set_watching(on);
    }

    /// The SDK failed to decrypt an event (it may succeed later: grace period).
    pub fn decryption_failed(&mut self, f: &Failure, now: u64) {
        self.utd.decryption_failed(f, now);
    }

    /// The SDK decrypted an event (a late decryption if it failed before).
    pub fn decrypted(&mut self, event_id: &str, now: u64) {
        self.utd.decrypted(event_id, now);
    }

    /// The frames the console tap adopted or noted, one a line
    /// (`source\tcrossOrigin\twindows\tvia\tlines`: plain text keeps the bundle
    /// small), and its early buffer (lines fed in at install, dropped when full).
    pub fn tap_frames(&mut self, frames: &str, early_lines: u64, early_dropped: u64) {
        let notes = frames
            .lines()
            .take(16)
            .filter_map(|l| {
                let mut it = l.split('\t');
                let (source, cross, windows, via, lines) =
                    (it.next()?, it.next()?, it.next()?, it.next().unwrap_or(""), it.next().unwrap_or(""));
                Some(crate::report::FrameNote {
                    source: crate::support::text::truncate_marked(
                        &crate::evidence::redact::redact(source, &mut self.journal.redactions),
                        256,
                    )
                    .0,
                    cross_origin: cross == "true",
                    windows: windows.parse().unwrap_or(0),
                    via: via.chars().take(64).collect(),
                    lines: lines.parse().unwrap_or(0),
                })
            })
            .collect();
        self.tap_frames = (notes, early_lines, early_dropped);
    }

    /// An internal error stopped capture: said in the report from now on.
    pub fn stopped_after_error(&mut self, what: &str) {
        self.stopped_after_error.get_or_insert_with(|| what.to_owned());
    }

    // ---------------------------------------------------------------- outputs

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.journal.entries()
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn findings(&self) -> &[Finding] {
        &self.journal.findings
    }

    pub fn storage(&self) -> Option<&Storage> {
        self.storage.as_ref()
    }

    pub fn otk_health(&self) -> OtkHealth {
        self.otk.snapshot()
    }

    pub fn monitor(&self) -> &Monitor {
        &self.otk
    }

    pub fn http(&self) -> &HttpStats {
        &self.http
    }

    /// The whole report. Sections whose source was never switched on are null.
    pub fn report(&self, mut ctx: Context, now: u64) -> Report {
        ctx.storage = self.storage.clone().unwrap_or_else(|| Storage {
            notes: vec!["requestPersistentStorage() and checkCryptoStoreConsistency() were not called".into()],
            ..Default::default()
        });
        let mut r = Report::build(&self.journal, ctx, self.console_installed, now);
        if self.http.installed || self.otk.state.uploads.requests + self.otk.state.uploads.conflicts > 0 {
            r.otk_health = Some(self.otk.snapshot());
        }
        if self.http.installed {
            let mut h = self.http.clone();
            h.tap_errors += self.taps.http_errors;
            r.http = Some(h);
        }
        // The tap sees every line; the journal only those that passed the prefilter.
        if let Some(seen) = self.taps.console_seen {
            r.capture.lines_seen = seen;
        }
        r.capture.capture_errors += self.taps.console_errors;
        r.capture.args_not_read = self.taps.args_not_read;
        r.capture.stopped_after_error = self.stopped_after_error.clone();
        (r.capture.frames, r.capture.early_lines, r.capture.early_dropped) = self.tap_frames.clone();
        let (derived, call) = self.derived_findings(now);
        r.findings.extend(derived);
        r.tab_guard = self.tab_guard.clone();
        if self.utd.is_active() {
            let mut d = self.utd.report(now);
            if self.otk.store_missing == Some(true) || self.otk.state.identity.replaced_by.is_some() {
                d.explain_store_reset();
            }
            r.decryption = Some(d);
        }
        r.call = call;
        r.health = Health::assess(&r.counts, &r.findings, Some(&self.otk.snapshot()));
        r
    }

    /// Findings drawn when asked rather than when observed (the tab guard's
    /// conflicts, a call's), and the call evidence they were drawn from.
    fn derived_findings(&self, now: u64) -> (Vec<Finding>, Option<CallEvidence>) {
        let mut findings: Vec<Finding> = self.tab_guard.assess(now).into_iter().collect();
        if self.call.is_empty() && self.peers.is_empty() {
            return (findings, None);
        }
        let own = self.otk.state.user_id.as_deref().zip(self.otk.state.device_id.as_deref()).map(|(u, d)| format!("{u}:{d}"));
        let mut call = self.call.evidence(own.as_deref(), now);
        call.peers = self.peers.peers();
        findings.extend(CallMonitor::findings(&call, now));
        findings.extend(PeerMonitor::findings(&call.peers, &self.ke1_link(&call.peers), now));
        (findings, Some(call))
    }

    /// What links undecryptable keys to KE-1 on this device: the identity the
    /// peers encrypted for, the one that replaced it, the one-time-key conflict.
    fn ke1_link(&self, peers: &[crate::evidence::peer_keys::PeerKeys]) -> serde_json::Value {
        let id = &self.otk.state.identity;
        let previous = id.replaced_by.as_ref().and(id.curve25519.as_deref());
        let for_previous = previous.is_some_and(|k| peers.iter().any(|p| p.encrypted_for.iter().any(|e| e == k)));
        obj!({
            "identityReplaced": id.replaced_by.is_some(),
            "previousCurve25519": previous,
            "currentCurve25519": id.current_curve25519(),
            "encryptedForPreviousIdentity": for_previous,
            "storeMissing": self.otk.store_missing,
            "otkConflictKeyId": self.otk.state.proof.as_ref().map(|p| &p.key_id),
        })
    }

    /// The overall level and each KE class's (`getCryptoDiagHealth()`): what
    /// the report's `health` says, without building the report.
    pub fn health(&self, now: u64) -> Health {
        let mut findings = self.journal.findings.clone();
        findings.extend(self.derived_findings(now).0);
        Health::assess(&self.journal.counts(), &findings, Some(&self.otk.snapshot()))
    }

    pub fn decryption(&self, now: u64) -> crate::evidence::decryption::DecryptionReport {
        self.utd.report(now)
    }

    // ---------------------------------------------------------------- decisions

    /// Effects for the monitor's events; its findings go to the journal.
    fn apply(&mut self, events: Vec<Event>) -> Vec<Effect> {
        let mut effects = Vec::new();
        for e in events {
            match e {
                Event::Finding(f) => self.journal.add_finding(f),
                Event::Remember { ed25519, curve25519, first_seen_at, max_accepted_counter } => {
                    if let (Some(user_id), Some(device_id)) = (self.otk.state.user_id.clone(), self.otk.state.device_id.clone()) {
                        let memory = DeviceMemory { ed25519, curve25519, first_seen_at, max_accepted_counter };
                        effects.push(Effect::RememberDevice { user_id, device_id, memory });
                    }
                }
                Event::RecoveryNeeded(r) => effects.push(Effect::RecoveryNeeded(r)),
                Event::Recovered { .. } => effects.push(Effect::Recovered),
            }
        }
        effects
    }

    /// A conflict goes to the monitor first; `false` when it was the second
    /// sighting of one conflict (then the journal keeps it uncounted).
    fn conflict(&mut self, c: &OtkConflict, source: Source, now: u64) -> (bool, Vec<Effect>) {
        let dup = self.otk.state.uploads.duplicates;
        let events = self.otk.observe_outcome(&UploadOutcome::Conflict(c.clone()), source, now);
        let counted = self.otk.state.uploads.duplicates == dup;
        (counted, self.apply(events))
    }

    fn keys_upload(&mut self, ex: &Exchange, now: u64) -> Vec<Effect> {
        let outcome = parse_response(ex.status, ex.response_body, ex.error);
        self.flood_answer(&outcome, now);
        let (UploadOutcome::Conflict(c), Some(status), Some(body)) = (&outcome, ex.status, ex.response_body) else {
            let events = self.otk.observe_outcome(&outcome, Source::Http, now);
            return self.apply(events);
        };
        if let Some(fp) = self.otk.last_fingerprint {
            self.otk.state.breaker.keep(KeptResponse {
                status,
                status_text: ex.status_text.to_owned(),
                content_type: ex.content_type.map(str::to_owned),
                body: body.to_owned(),
                fingerprint: fp,
            });
        }
        let (counted, effects) = self.conflict(c, Source::Http, now);
        // Evidence in the journal, in the words the server used.
        #[allow(clippy::expect_used, reason = "the table is a constant holding this row; tests/signatures.rs matches it")]
        let sig = SIGNATURES.iter().find(|s| s.id == OTK_CONFLICT).expect("the conflict signature is in the table");
        let mut fields = serde_json::Map::new();
        c.to_fields(&mut fields);
        fields.insert("status".into(), status.into());
        let message = format!("HTTP {} {} [{status}] {body}", ex.method, path_of(ex.url));
        self.journal.store("http", &message, Classified { signature: sig, fields }, now, counted);
        effects
    }

    /// The flood detector hears every upload answer; its finding goes to the journal.
    fn flood_answer(&mut self, outcome: &UploadOutcome, now: u64) {
        let flood = &mut self.otk.flood;
        let finding = match outcome {
            UploadOutcome::Accepted { counts } => {
                flood.accepted(counts.iter().find(|(k, _)| k == "signed_curve25519").map(|(_, n)| *n), now)
            }
            UploadOutcome::Rejected { errcode, error: Some(e), .. } if is_cap_refusal(errcode.as_deref(), e) => flood.refused(e, now),
            _ => {
                flood.other_answer();
                None
            }
        };
        if let Some(f) = finding {
            self.journal.add_finding(f);
        }
    }

    /// KE-4 from the client side: the delayed-event calls' own module decides
    /// whether they are slower than the SDK's local timeout.
    fn delayed_events(&mut self, ex: &Exchange, now: u64) {
        let failed = ex.status.is_none_or(|st| st >= 500);
        if let Some(finding) = self.http.delayed_events.delayed_event_seen(ex.duration_ms, failed, now) {
            self.journal.add_finding(finding);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn device_memory_reads_as_the_derived_deserialize() {
        for text in [
            r#"{"ed25519":"ED1","firstSeenAt":1794000000000,"maxAcceptedCounter":49}"#,
            r#"{"ed25519":null,"firstSeenAt":5}"#,
            r#"{"other":1}"#,
            "{}",
            r#"{"ed25519":7}"#,
            r#"{"firstSeenAt":1.5}"#,
            r#"{"maxAcceptedCounter":-1}"#,
            r#"{"firstSeenAt":"5"}"#,
            "null",
            "7",
            "{",
            "",
        ] {
            assert_eq!(DeviceMemory::from_json(text), serde_json::from_str::<DeviceMemory>(text).ok(), "{text}");
        }
        assert_eq!(DeviceMemory::from_json(r#"{"ed25519":"E","maxAcceptedCounter":3}"#).unwrap().max_accepted_counter, Some(3));
        // We only ever store an object; serde would also read a sequence.
        assert_eq!(DeviceMemory::from_json("[]"), None);
    }

    use super::*;
    use crate::otk::health::Phase;
    use crate::report::finding::Level;

    const BODY_400: &str = r#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"OLD\",\"signatures\":{}}; new key: {'key': 'NEW', 'signatures': {}}"}"#;
    const UPLOAD: &str = r#"{"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":{"key":"NEW"}}}"#;
    const CONSOLE: &str = "Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"OLD\",\"signatures\":{}}; new key: {'key': 'NEW', 'signatures': {}} (https://hs/_matrix/client/v3/keys/upload)";

    fn rejected<'a>() -> Exchange<'a> {
        Exchange {
            method: "POST",
            url: "https://hs/_matrix/client/v3/keys/upload",
            status: Some(400),
            status_text: "Bad Request",
            content_type: Some("application/json"),
            duration_ms: 40,
            response_body: Some(BODY_400),
            ..Default::default()
        }
    }

    fn recovery(effects: &[Effect]) -> usize {
        effects.iter().filter(|e| matches!(e, Effect::RecoveryNeeded(_))).count()
    }

    #[test]
    fn http_and_console_feed_one_detector_and_count_once() {
        let mut d = Diagnostics::default();
        d.http_installed(MonitorConfig::default(), false);
        let mut recoveries = 0;
        for i in 0..3u64 {
            d.before_upload(UPLOAD, i * 1000);
            recoveries += recovery(&d.exchange(&rejected(), i * 1000 + 40));
            d.console_line("error", CONSOLE, i * 1000 + 41);
        }
        assert_eq!((recoveries, d.monitor().state.phase), (1, Phase::Storm));
        assert_eq!((d.monitor().state.uploads.conflicts, d.monitor().state.uploads.duplicates), (3, 3));
        assert_eq!(d.journal().counts()["KE-1"].by_signature.get(OTK_CONFLICT), Some(&3), "six sightings, three conflicts");
        assert_eq!(d.http().keys_upload.client_errors, 3);
        assert!(d.entries().any(|e| e.level == "http" && e.message.starts_with("HTTP POST /_matrix/client/v3/keys/upload [400]")));
    }

    #[test]
    fn console_first_then_http_also_counts_once() {
        let mut d = Diagnostics::default();
        for i in 0..3u64 {
            d.console_line("error", CONSOLE, i * 1000);
            d.exchange(&rejected(), i * 1000 + 5);
        }
        assert_eq!(d.journal().counts()["KE-1"].by_signature.get(OTK_CONFLICT), Some(&3));
        let http_entry = d.entries().find(|e| e.level == "http").expect("http evidence kept");
        assert_eq!(http_entry.fields["key_id"], "AAAAAAAAAA0");
        assert_eq!(http_entry.fields["status"], 400);
    }

    #[test]
    fn breaker_answers_locally_once_armed_and_enabled() {
        let mut d = Diagnostics::default();
        d.http_installed(MonitorConfig::default(), true);
        for i in 0..3u64 {
            assert_eq!(d.before_upload(UPLOAD, i).decision, Decision::Forward);
            d.exchange(&rejected(), i);
        }
        let a = d.before_upload(UPLOAD, 10);
        assert_eq!(a.decision, Decision::AnswerLocally);
        let kept = a.kept.unwrap();
        assert_eq!((kept.status, kept.body.as_str(), kept.content_type.as_deref()), (400, BODY_400, Some("application/json")));
        d.exchange(&Exchange { answered_locally: true, ..rejected() }, 10);
        assert_eq!((d.http().keys_upload.answered_locally, d.http().keys_upload.requests, d.monitor().state.uploads.conflicts), (1, 3, 3));
        // A different body goes through.
        assert_eq!(d.before_upload(r#"{"one_time_keys":{}}"#, 11).decision, Decision::Forward);
    }

    #[test]
    fn a_repeated_body_is_compared_not_reparsed_and_a_changed_one_is_read() {
        let mut d = Diagnostics::default();
        let with_ed = |ed: &str| {
            format!(r#"{{"device_keys":{{"user_id":"@a:hs","device_id":"DEV","keys":{{"ed25519:DEV":"{ed}"}}}},"one_time_keys":{{}}}}"#)
        };
        let first = with_ed("ED1");
        let a = d.before_upload(&first, 1);
        assert!(
            matches!(&a.effects[..], [Effect::RememberDevice { device_id, memory, .. }] if device_id == "DEV" && memory.ed25519.as_deref() == Some("ED1")),
            "{:?}",
            a.effects
        );
        let fp = d.monitor().last_fingerprint;
        d.before_upload(&first, 2);
        assert_eq!((d.monitor().state.uploads.requests, d.monitor().last_fingerprint), (2, fp));
        assert_eq!(d.upload_memo.as_ref().map(|(b, _)| b.as_str()), Some(first.as_str()));
        // A new identity in a new body is read: the early warning fires.
        d.before_upload(&with_ed("ED2"), 3);
        assert!(d.findings().iter().any(|f| f.id == "device_identity_replaced"));
        assert_ne!(d.monitor().last_fingerprint, fp);
    }

    #[test]
    fn slow_delayed_events_raise_a_ke4_finding() {
        let mut d = Diagnostics::default();
        let url = "https://hs/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_1/restart";
        d.exchange(&Exchange { method: "POST", url, status: Some(200), duration_ms: 150, ..Default::default() }, 1);
        assert!(d.findings().is_empty());
        d.exchange(&Exchange { method: "POST", url, status: Some(200), duration_ms: 2500, ..Default::default() }, 2);
        d.exchange(&Exchange { method: "POST", url, aborted: true, duration_ms: 2000, error: Some("AbortError"), ..Default::default() }, 3);
        let f = &d.findings()[0];
        assert_eq!((f.id.as_str(), f.ke.map(crate::Class::as_str)), ("delayed_events_slow", Some("KE-4")));
        assert_eq!(f.evidence["overLocalTimeout"], 1);
        assert_eq!(f.evidence["aborted"], 1);
        assert_eq!(d.http().delayed_events.by_detail.get("restart"), Some(&3));
    }

    fn sync_with(count: Option<u64>) -> String {
        match count {
            Some(n) => format!("otk signed_curve25519={n}\ntotal 0\n"),
            None => "total 0\n".to_owned(),
        }
    }

    #[test]
    fn a_sync_summary_names_to_device_events_for_the_lost_identity() {
        let mut d = Diagnostics::default();
        d.http_installed(MonitorConfig::default(), false);
        let body = |ed: &str, cu: &str| {
            format!(
                r#"{{"device_keys":{{"user_id":"@b:hs","device_id":"BOB","keys":{{"ed25519:BOB":"{ed}","curve25519:BOB":"{cu}"}}}},"one_time_keys":{{}}}}"#
            )
        };
        d.before_upload(&body("ED_A", "CU_A"), 1);
        d.before_upload(&body("ED_B", "CU_B"), 2);
        let olm = "m.olm.v1.curve25519-aes-sha2";
        let summary = format!("total 3\nev m.room.encrypted\t@alice:hs\t{olm}\tALICE_CU\tmsg1\tCU_A\nev m.room.encrypted\t@carol:hs\t{olm}\tCAROL_CU\tmsg2\tCU_B\nev m.dummy\t@x:hs\t\t\t\t\n");
        let url = "https://hs/_matrix/client/v3/sync?since=s1";
        d.exchange(&Exchange { method: "GET", url, status: Some(200), response_body: Some(&summary), ..Default::default() }, 3);
        let r = d.report(Context::default(), 4);
        let f = r.findings.iter().find(|f| f.id == "call_keys_undecryptable").expect("from /sync alone, no console line");
        assert_eq!(
            (f.evidence["peers"][0]["userId"].as_str(), f.evidence["peers"][0]["msgids"][0].as_str()),
            (Some("@alice:hs"), Some("msg1"))
        );
        assert_eq!(f.evidence["ke1"]["encryptedForPreviousIdentity"], true);
        let carol = r.call.unwrap().peers.into_iter().find(|p| p.user_id == "@carol:hs").unwrap();
        assert_eq!((carol.olm_for_us, carol.incoming.as_str()), (1, "unknown"));
    }

    #[test]
    fn sync_counts_and_upload_answers_feed_the_flood_detector() {
        let mut d = Diagnostics::default();
        d.http_installed(MonitorConfig::default(), false);
        let sync_url = "https://hs/_matrix/client/v3/sync?since=s1&timeout=30000";
        let upload_ok = |n: u64| format!(r#"{{"one_time_key_counts":{{"signed_curve25519":{n}}}}}"#);
        let batch = |from: u64| {
            let keys: Vec<String> = (from..from + 50).map(|i| format!(r#""signed_curve25519:K{i}":{{"key":"k{i}"}}"#)).collect();
            format!(r#"{{"one_time_keys":{{{}}}}}"#, keys.join(","))
        };
        let mut server = 50;
        for round in 0..3u64 {
            let t = 1000 * (round + 1);
            let body = sync_with(Some(server));
            d.exchange(&Exchange { method: "GET", url: sync_url, status: Some(200), response_body: Some(&body), ..Default::default() }, t);
            d.before_upload(&batch(round * 50), t + 1);
            server += 50;
            let answer = upload_ok(server);
            d.exchange(&Exchange { status: Some(200), response_body: Some(&answer), ..rejected() }, t + 2);
        }
        let h = d.otk_health();
        let flood = h.flood.clone().unwrap();
        assert_eq!((flood.excess_uploads, flood.excess_keys, flood.max_server_count, flood.syncs_with_counts), (3, 150, Some(200), 3));
        assert_eq!(h.outcome, crate::otk::health::Outcome::Flooding);
        let f = d.findings().iter().find(|f| f.id == "otk_flood").expect("flood finding");
        assert_eq!((f.ke, f.ts), (None, 2002), "raised at the second excess upload, not KE-1");
        assert_eq!((d.http().sync.requests, d.http().sync.ok), (3, 3));
        // A sync the tap could not read is counted apart from failed uploads.
        d.exchange(&Exchange { method: "GET", url: sync_url, status: Some(200), body_not_read: true, ..Default::default() }, 9000);
        assert_eq!((d.http().sync_bodies_not_read, d.http().bodies_not_read), (1, 0));
        // The report carries it.
        let r = d.report(Context::default(), 9001);
        assert_eq!(r.otk_health.unwrap().flood.unwrap().target, crate::otk::flood::SDK_TARGET);
    }

    #[test]
    fn synapse_refusing_the_upload_is_the_flood_not_ke1() {
        let mut d = Diagnostics::default();
        let refusal = r#"{"errcode":"M_TOO_LARGE","error":"Uploading 50 more signed_curve25519 one-time keys would leave the device holding 550, over the limit of 500"}"#;
        for i in 0..3u64 {
            d.before_upload(UPLOAD, i * 10);
            d.exchange(&Exchange { response_body: Some(refusal), ..rejected() }, i * 10 + 1);
        }
        let h = d.otk_health();
        assert_eq!((h.outcome, h.state.uploads.rejected, h.state.uploads.conflicts), (crate::otk::health::Outcome::Flooding, 3, 0));
        assert!(h.recommendation.is_none(), "not the KE-1 relogin");
        let flood = h.flood.unwrap();
        assert_eq!((flood.refusals, flood.refusal.as_deref().map(|r| r.contains("holding 550"))), (3, Some(true)));
        let f = d.findings().iter().find(|f| f.id == "otk_flood").unwrap();
        assert_eq!((f.level, f.ts), (crate::report::finding::Level::Critical, 1));
        assert!(d.journal().counts().get("KE-1").is_none_or(|c| c.count == 0));
    }

    #[test]
    fn a_ke1_storm_is_not_a_flood() {
        let mut d = Diagnostics::default();
        let sync_url = "https://hs/_matrix/client/v3/sync";
        for i in 0..6u64 {
            let body = sync_with(Some(50));
            d.exchange(
                &Exchange { method: "GET", url: sync_url, status: Some(200), response_body: Some(&body), ..Default::default() },
                i * 10,
            );
            d.before_upload(UPLOAD, i * 10 + 1);
            d.exchange(&rejected(), i * 10 + 2);
        }
        let h = d.otk_health();
        assert_eq!(h.flood.unwrap().excess_uploads, 0, "rejected uploads added no keys");
        assert_eq!(h.outcome, crate::otk::health::Outcome::Diverged);
        assert!(!d.findings().iter().any(|f| f.id == "otk_flood"));
    }

    #[test]
    fn unwatched_urls_are_ignored() {
        let mut d = Diagnostics::default();
        let ex = Exchange { method: "GET", url: "https://hs/_matrix/client/v3/keys/changes", status: Some(200), ..Default::default() };
        assert!(d.exchange(&ex, 1).is_empty());
        assert_eq!(d.http(), &HttpStats::default());
    }

    /// What a first sight of the store for `@a:hs`'s device `DEV` asks the browser to remember.
    fn seen(at: u64, prefix: &str) -> Vec<Effect> {
        vec![Effect::RememberStoreSeen { user_id: Some("@a:hs".into()), device_id: Some("DEV".into()), at, prefix: prefix.into() }]
    }

    fn store_probe(databases: &[&str], seen_at: Option<u64>) -> StoreProbe {
        StoreProbe {
            session_present: true,
            session_readable: true,
            user_id: Some("@a:hs".into()),
            device_id: Some("DEV".into()),
            databases: Some(databases.iter().map(|s| s.to_string()).collect()),
            why_unlisted: None,
            seen_at,
            remembered_prefix: seen_at.map(|_| crypto_store::DEFAULT_PREFIX.into()),
            evicted_at: None,
        }
    }

    #[test]
    fn a_missing_store_is_a_finding_a_later_check_adds_to_and_never_erases() {
        let mut d = Diagnostics::default();
        let (f, effects) = d.crypto_store_probe(store_probe(&[crypto_store::RUST_CRYPTO_DB], None), StorageProbe::default(), 5);
        assert!(f.is_none());
        assert_eq!(effects, seen(5, crypto_store::DEFAULT_PREFIX));
        assert_eq!(d.monitor().store_missing, Some(false));
        let (f, effects) = d.crypto_store_probe(store_probe(&[], Some(5)), StorageProbe::default(), 10);
        assert_eq!(f.map(|f| f.level), Some(Level::Critical));
        assert_eq!(effects, vec![Effect::RememberEviction { user_id: Some("@a:hs".into()), device_id: Some("DEV".into()), at: 10 }]);
        assert_eq!(d.monitor().store_missing, Some(true));
        assert!(d.findings().iter().any(|f| f.id == "crypto_store_missing"));
        // The store is back under the same device (rust crypto re-created it): the later check
        // adds that fact; the eviction stays in the findings and still explains a new identity.
        d.crypto_store_probe(store_probe(&[crypto_store::RUST_CRYPTO_DB], Some(5)), StorageProbe::default(), 20);
        assert_eq!(d.monitor().store_missing, Some(true));
        let f = d.findings().iter().find(|f| f.id == "crypto_store_missing").cloned();
        let f = f.unwrap_or_else(|| panic!("the eviction finding was erased by a later check: {:?}", d.findings()));
        assert_eq!((f.level, f.ts), (Level::Critical, 10), "raised at the check that saw the store gone");
        assert_eq!(f.evidence["missingDatabases"][0], crypto_store::RUST_CRYPTO_DB);
        assert_eq!(f.evidence["presentAgain"]["at"], iso8601(20));
        assert_eq!(f.evidence["presentAgain"]["sameDevice"], true);
        assert_eq!(d.storage().unwrap().crypto_store.present, Some(true));
        // It reaches the report too, after any number of later checks.
        d.crypto_store_probe(store_probe(&[crypto_store::RUST_CRYPTO_DB], Some(5)), StorageProbe::default(), 30);
        let r = d.report(Context::default(), 31);
        let f = r.findings.iter().find(|f| f.id == "crypto_store_missing");
        assert_eq!(f.map(|f| f.evidence["presentAgain"]["at"].clone()), Some(serde_json::json!(iso8601(20))), "first re-check kept");
    }

    #[test]
    fn an_eviction_seen_by_an_earlier_page_load_is_still_reported_once_the_store_is_back() {
        // This page load: the store goes, the eviction is remembered for the next ones.
        let mut d = Diagnostics::default();
        let (f, effects) = d.crypto_store_probe(store_probe(&[crypto_store::SYNC_DB], Some(5)), StorageProbe::default(), 10);
        assert_eq!(f.map(|f| f.level), Some(Level::Critical));
        assert_eq!(effects, vec![Effect::RememberEviction { user_id: Some("@a:hs".into()), device_id: Some("DEV".into()), at: 10 }]);
        // A later page load (a fresh state): rust crypto re-created the store under the same device.
        let mut later = Diagnostics::default();
        let mut back = store_probe(&[crypto_store::RUST_CRYPTO_DB, crypto_store::SYNC_DB], Some(5));
        back.evicted_at = Some(10);
        let (f, effects) = later.crypto_store_probe(back.clone(), StorageProbe::default(), 50);
        assert!(f.is_none() && effects.is_empty(), "the store is there now; nothing new to remember");
        let kept = later.findings().iter().find(|f| f.id == "crypto_store_missing").cloned();
        let kept = kept.unwrap_or_else(|| panic!("the earlier eviction is gone from a later page load: {:?}", later.findings()));
        assert_eq!((kept.level, kept.ts), (Level::Critical, 10), "dated when it was found");
        assert_eq!(kept.evidence["missingDatabases"][0], crypto_store::RUST_CRYPTO_DB);
        assert_eq!(
            (kept.evidence["presentAgain"]["at"].as_str(), kept.evidence["presentAgain"]["sameDevice"].as_bool()),
            (Some(iso8601(50).as_str()), Some(true))
        );
        assert_eq!(later.monitor().store_missing, Some(true), "it still explains a new identity");
        // Once, however many checks follow; and a new login's device has no such memory.
        later.crypto_store_probe(back, StorageProbe::default(), 60);
        assert_eq!(later.findings().iter().filter(|f| f.id == "crypto_store_missing").count(), 1);
        let mut fresh = Diagnostics::default();
        fresh.crypto_store_probe(store_probe(&[crypto_store::RUST_CRYPTO_DB], Some(5)), StorageProbe::default(), 70);
        assert!(fresh.findings().is_empty());
    }

    #[test]
    fn a_forks_own_store_is_remembered_and_its_eviction_found() {
        // Sable names the store `sync<userId>::matrix-sdk-crypto` (cryptoDatabasePrefix).
        let own = "sync@a:hs::matrix-sdk-crypto";
        let mut d = Diagnostics::default();
        let (f, effects) = d.crypto_store_probe(store_probe(&[own, "sync@a:hs"], None), StorageProbe::default(), 5);
        assert!(f.is_none());
        assert_eq!(effects, seen(5, "sync@a:hs"));
        let store = &d.storage().unwrap().crypto_store;
        assert_eq!((store.present, store.name.as_deref(), store.databases.get(own)), (Some(true), Some(own), Some(&true)));
        // Evicted: the next page load looks for the remembered name, now gone.
        let mut gone = store_probe(&["sync@a:hs"], Some(5));
        gone.remembered_prefix = Some("sync@a:hs".into());
        let (f, effects) = d.crypto_store_probe(gone, StorageProbe::default(), 10);
        let f = f.expect("the eviction of the fork's own store is found");
        assert_eq!((f.level, f.evidence["missingDatabases"][0].as_str()), (Level::Critical, Some(own)));
        assert!(matches!(effects[..], [Effect::RememberEviction { at: 10, .. }]), "{effects:?}");
        assert_eq!(d.storage().unwrap().crypto_store.databases.get(own), Some(&false));
        // An older record without a name gets its name added, keeping when it was first seen.
        let mut old = store_probe(&[own], Some(3));
        old.remembered_prefix = None;
        let (_, effects) = Diagnostics::default().crypto_store_probe(old, StorageProbe::default(), 9);
        assert_eq!(effects, seen(3, "sync@a:hs"));
    }

    #[test]
    fn a_store_present_under_a_new_device_keeps_the_eviction_but_no_longer_explains_identities() {
        let mut d = Diagnostics::default();
        d.crypto_store_probe(store_probe(&[], Some(5)), StorageProbe::default(), 10);
        let mut later = store_probe(&[crypto_store::RUST_CRYPTO_DB], None);
        later.device_id = Some("NEW".into());
        d.crypto_store_probe(later, StorageProbe::default(), 20);
        assert_eq!(d.monitor().store_missing, Some(false), "a new login's store explains nothing");
        let f = d.findings().iter().find(|f| f.id == "crypto_store_missing").cloned();
        let f = f.unwrap_or_else(|| panic!("erased: {:?}", d.findings()));
        assert_eq!(f.evidence["deviceId"], "DEV");
        assert_eq!(f.evidence["presentAgain"]["sameDevice"], false);
        assert_eq!(f.evidence["presentAgain"]["deviceId"], "NEW");
    }

    #[test]
    fn a_present_store_without_an_earlier_eviction_raises_nothing() {
        let mut d = Diagnostics::default();
        d.crypto_store_probe(store_probe(&[crypto_store::RUST_CRYPTO_DB], None), StorageProbe::default(), 5);
        d.crypto_store_probe(store_probe(&[crypto_store::RUST_CRYPTO_DB], Some(5)), StorageProbe::default(), 6);
        assert!(d.findings().is_empty());
        assert_eq!(d.monitor().store_missing, Some(false));
    }

    #[test]
    fn report_sections_follow_what_was_switched_on() {
        let mut d = Diagnostics::default();
        let r = d.report(Context::default(), 1);
        assert!(r.otk_health.is_none() && r.http.is_none() && !r.capture.installed);
        assert_eq!(r.storage.notes.len(), 1, "says the storage checks were not called");
        d.console_installed(Config::default());
        d.http_installed(MonitorConfig::default(), false);
        d.tap_counters(TapCounters { console_seen: Some(42), console_errors: 1, args_not_read: 3, http_errors: 2 });
        let r = d.report(Context::default(), 2);
        assert!(r.capture.installed && r.otk_health.is_some());
        assert_eq!((r.capture.lines_seen, r.capture.capture_errors, r.http.unwrap().tap_errors), (42, 1, 2));
        assert_eq!(r.capture.args_not_read, 3);
        assert_eq!(r.capture.stopped_after_error, None);
        d.stopped_after_error("panicked at …");
        assert_eq!(d.report(Context::default(), 3).capture.stopped_after_error.as_deref(), Some("panicked at …"));
    }

    #[test]
    fn the_decryption_section_follows_the_watcher_and_the_grace_period() {
        use crate::evidence::decryption::GRACE_PERIOD_MS;
        let mut d = Diagnostics::default();
        assert!(d.report(Context::default(), 1).decryption.is_none(), "null until something watches");
        d.decryption_watch(true);
        let f = Failure {
            event_id: "$bad",
            room_id: Some("!r:hs"),
            code: Some("UNKNOWN_ERROR"),
            message: Some("missing field `algorithm` token=syt_c2VjcmV0_AbCdEfGhIjKlMnOpQrSt_0a1b2c"),
            has_algorithm: Some(false),
        };
        d.decryption_failed(&f, 10);
        d.decryption_failed(&Failure { event_id: "$late", code: Some("MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), ..Default::default() }, 10);
        let r = d.report(Context::default(), 11);
        let s = r.decryption.as_ref().unwrap();
        assert!(s.watching && s.causes.is_empty() && s.pending == 2);
        d.decrypted("$late", 10 + GRACE_PERIOD_MS + 500);
        let r = d.report(Context::default(), 10 + GRACE_PERIOD_MS + 600);
        let s = r.decryption.as_ref().unwrap();
        assert_eq!((s.failures, s.late_decryptions, s.causes["malformed_event"].events[0].event_id.as_str()), (1, 1, "$bad"));
        assert_eq!(s.causes["missing_room_key"].count, 0);
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("syt_c2VjcmV0_AbCdEfGhIjKlMnOpQrSt_0a1b2c"), "error texts are read, never stored");
        // A report written before the section existed still reads.
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_object_mut().unwrap().remove("decryption");
        assert!(Report::from_json(&v.to_string()).unwrap().decryption.is_none());
    }

    #[test]
    fn history_lost_with_the_store_is_attributed_to_the_reset_not_to_a_new_login() {
        use crate::evidence::decryption::GRACE_PERIOD_MS;
        let historical = Failure { event_id: "$old", code: Some("HISTORICAL_MESSAGE_NO_KEY_BACKUP"), ..Default::default() };
        let missing = Failure { event_id: "$new", code: Some("MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), ..Default::default() };
        let mut healthy = Diagnostics::default();
        healthy.decryption_watch(true);
        healthy.decryption_failed(&historical, 1);
        let r = healthy.report(Context::default(), 2 + GRACE_PERIOD_MS);
        assert_eq!(r.decryption.unwrap().causes["historical_no_key_backup"].explained_by, None, "a real new login: the SDK's words stand");
        let mut d = Diagnostics::default();
        d.crypto_store_probe(store_probe(&[], Some(5)), StorageProbe::default(), 10);
        d.decryption_watch(true);
        d.decryption_failed(&historical, 11);
        d.decryption_failed(&missing, 11);
        let s = d.report(Context::default(), 12 + GRACE_PERIOD_MS).decryption.unwrap();
        assert_eq!(s.causes["historical_no_key_backup"].explained_by.as_deref(), Some("crypto_store_reset"));
        assert_eq!(s.causes["missing_room_key"].explained_by, None);
    }

    #[test]
    fn to_device_events_for_the_lost_identity_are_call_keys_that_never_decrypt() {
        use crate::evidence::peer_keys::{ToDeviceEvent, OLM_V1};
        let mut d = Diagnostics::default();
        let body = |ed: &str, cu: &str| {
            format!(
                r#"{{"device_keys":{{"user_id":"@b:hs","device_id":"BOB","keys":{{"ed25519:BOB":"{ed}","curve25519:BOB":"{cu}"}}}},"one_time_keys":{{}}}}"#
            )
        };
        let (old, new) = (vec!["CU_A".to_owned()], vec!["CU_B".to_owned()]);
        let ev = |to: &'static [String], id: &'static str| ToDeviceEvent {
            event_type: "m.room.encrypted",
            sender: Some("@alice:hs"),
            algorithm: Some(OLM_V1),
            sender_key: Some("ALICE_CU"),
            recipient_keys: to,
            msgid: Some(id),
        };
        let (old, new): (&'static [String], &'static [String]) = (Box::leak(old.into_boxed_slice()), Box::leak(new.into_boxed_slice()));
        // First life: identity A; a message for A is simply received.
        d.before_upload(&body("ED_A", "CU_A"), 1);
        d.to_device(&ev(old, "m0"), 2);
        assert!(d.report(Context::default(), 3).findings.is_empty());
        // The store is reset: identity B goes up; peers keep encrypting for A.
        d.before_upload(&body("ED_B", "CU_B"), 4);
        d.to_device(&ev(old, "m1"), 5);
        d.to_device(&ev(new, "m2"), 6);
        let r = d.report(Context::default(), 7);
        let f = r.findings.iter().find(|f| f.id == "call_keys_undecryptable").expect("the KE-2 conclusion");
        assert_eq!(f.evidence["peers"][0]["msgids"], serde_json::json!(["m1"]));
        assert_eq!(f.evidence["ke1"]["previousCurve25519"], "CU_A");
        assert_eq!(f.evidence["ke1"]["currentCurve25519"], "CU_B");
        assert_eq!(f.evidence["ke1"]["encryptedForPreviousIdentity"], true);
        let p = &r.call.unwrap().peers[0];
        assert_eq!((p.olm_for_us, p.olm_not_for_us, p.incoming.as_str()), (2, 1, "undecryptable"));
    }

    #[test]
    fn frames_and_call_evidence_reach_the_report() {
        let mut d = Diagnostics::default();
        d.tap_frames("frame:/element-call/index.html\tfalse\t1\tinsert\t42\nframe:https://other.example/w\ttrue\t0\t\nbroken", 3, 1);
        let (e, _) = d.console_line_from("warn", "missing key at index 0 for participant @b:hs:BOB", "frame:/element-call/index.html", 5);
        assert_eq!(e.unwrap().source, "frame:/element-call/index.html");
        let r = d.report(Context::default(), 10);
        assert!(r.call.is_none(), "no widget traffic: no call section");
        assert_eq!((r.capture.early_lines, r.capture.early_dropped, r.capture.frames.len()), (3, 1, 2));
        assert_eq!((r.capture.frames[0].windows, r.capture.frames[0].lines, r.capture.frames[1].cross_origin), (1, 42, true));
        let member = r#"{"api":"toWidget","widgetId":"w","requestId":"1","action":"send_event","data":{"type":"org.matrix.msc3401.call.member","sender":"@b:hs","state_key":"_@b:hs_BOB_m.call","content":{"device_id":"BOB"}}}"#;
        d.widget_message(member, 100);
        let r = d.report(Context::default(), 100 + crate::evidence::widget::KEY_GRACE_MS);
        assert!(r.call.as_ref().unwrap().participants[0].missing_keys);
        assert!(r.findings.iter().any(|f| f.id == "call_keys_missing"));
    }

    #[test]
    fn extracted_fields_are_redacted_before_they_are_stored() {
        let mut d = Diagnostics::default();
        let line = r#"MatrixRTC: Reached maximum (10) retries cause by: Error: POST https://hs.example/_matrix/client/v3/delayed_events?access_token=Zk3qP9xVb2LmN7sT4wRyE6uH failed; {"password":"hunter2"}"#;
        let (e, _) = d.console_line("error", line, 1);
        let text = serde_json::to_string(&e.unwrap()).unwrap();
        assert!(!text.contains("Zk3qP9xVb2LmN7sT4wRyE6uH") && !text.contains("hunter2"), "{text}");
        let report = serde_json::to_string(&d.report(Context::default(), 2)).unwrap();
        assert!(!report.contains("Zk3qP9xVb2LmN7sT4wRyE6uH") && !report.contains("hunter2"));
    }
}
