//! Why each message fails to decrypt (UTD causes): every decryption result the
//! SDK reports enters here with its time; the report says, per cause, how many
//! events stayed undecryptable, since when, and which ones.
//!
//! As Element Web's `src/DecryptionFailureTracker.ts` does, a failure is only
//! counted once it outlived a grace period (keys often arrive a moment after
//! the message), and an event that decrypts after the grace period is a late
//! decryption, counted apart and no longer a failure. Causes follow
//! matrix-js-sdk's `DecryptionFailureCode` (src/crypto-api/index.ts) and
//! matrix-rust-sdk's `UtdCause` (crates/matrix-sdk-crypto/src/types/events/utd_cause.rs);
//! one more, `malformed_event`, is KE-3: an `m.room.encrypted` event without
//! `algorithm` is a data problem, not a key problem.
//!
//! Memory is bounded: at most [`MAX_TRACKED`] events are followed (the oldest
//! failure is forgotten first), and each cause lists at most [`MAX_EVENTS_PER_CAUSE`].

use crate::support::map::SortedMap;
use serde::{Deserialize, Serialize};

/// Element Web's grace period before a failure counts.
pub const GRACE_PERIOD_MS: u64 = 4_000;
/// Events followed at once.
pub const MAX_TRACKED: usize = 1_000;
/// Event ids listed per cause (the longest-failing first).
pub const MAX_EVENTS_PER_CAUSE: usize = 10;

/// Why one event cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// KE-3: the encrypted content has no `algorithm`.
    MalformedEvent,
    /// `MEGOLM_UNKNOWN_INBOUND_SESSION_ID`: the sender never shared the room key with this device.
    MissingRoomKey,
    /// `OLM_UNKNOWN_MESSAGE_INDEX`: the key arrived, but from a later ratchet index.
    UnknownMessageIndex,
    /// `MEGOLM_KEY_WITHHELD`: the sender said it withholds the key.
    WithheldBySender,
    /// `MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE`: withheld because this device is unverified.
    WithheldForUnverifiedDevice,
    /// `HISTORICAL_MESSAGE_USER_NOT_JOINED`: sent while the user was not a member.
    SentBeforeWeJoined,
    /// `HISTORICAL_MESSAGE_NO_KEY_BACKUP`: sent before this device existed; no key backup.
    HistoricalNoKeyBackup,
    /// `HISTORICAL_MESSAGE_BACKUP_UNCONFIGURED`: before this device; a backup this device cannot use.
    HistoricalBackupUnconfigured,
    /// `HISTORICAL_MESSAGE_WORKING_BACKUP`: before this device; the backup does not have it (yet).
    HistoricalWorkingBackup,
    /// `SENDER_IDENTITY_PREVIOUSLY_VERIFIED`: refused, the sender's identity changed.
    VerificationViolation,
    /// `UNSIGNED_SENDER_DEVICE`: refused, the sender's device is not cross-signed.
    UnsignedDevice,
    /// `UNKNOWN_SENDER_DEVICE`: refused, the sending device is unknown.
    UnknownDevice,
    /// `UNKNOWN_ERROR` or a code this build does not know.
    Unknown,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::MalformedEvent => "malformed_event",
            Cause::MissingRoomKey => "missing_room_key",
            Cause::UnknownMessageIndex => "unknown_message_index",
            Cause::WithheldBySender => "withheld_by_sender",
            Cause::WithheldForUnverifiedDevice => "withheld_for_unverified_device",
            Cause::SentBeforeWeJoined => "sent_before_we_joined",
            Cause::HistoricalNoKeyBackup => "historical_no_key_backup",
            Cause::HistoricalBackupUnconfigured => "historical_backup_unconfigured",
            Cause::HistoricalWorkingBackup => "historical_working_backup",
            Cause::VerificationViolation => "verification_violation",
            Cause::UnsignedDevice => "unsigned_device",
            Cause::UnknownDevice => "unknown_device",
            Cause::Unknown => "unknown",
        }
    }

    /// `data` (the event itself is bad), `key` (this device lacks the room key),
    /// `trust` (the key is there, the sender is not trusted) or `unknown`.
    pub fn kind(self) -> &'static str {
        match self {
            Cause::MalformedEvent => "data",
            Cause::VerificationViolation | Cause::UnsignedDevice | Cause::UnknownDevice => "trust",
            Cause::Unknown => "unknown",
            _ => "key",
        }
    }

    /// The KE class this cause is, if any.
    pub fn ke(self) -> Option<&'static str> {
        (self == Cause::MalformedEvent).then_some("KE-3")
    }

    /// From the SDK's failure code and error text. `has_algorithm`: whether the
    /// event's wire content has a string `algorithm` (`None`: not known).
    pub fn of(code: Option<&str>, message: Option<&str>, has_algorithm: Option<bool>) -> Cause {
        // The SDK files a malformed event under UNKNOWN_ERROR; its own words say which it is.
        let says_missing = message
            .is_some_and(|m| m.contains("missing field") && ["`algorithm`", "'algorithm'", "\"algorithm\""].iter().any(|n| m.contains(n)));
        if has_algorithm == Some(false) || says_missing {
            return Cause::MalformedEvent;
        }
        match code.unwrap_or("") {
            "MEGOLM_UNKNOWN_INBOUND_SESSION_ID" => Cause::MissingRoomKey,
            "OLM_UNKNOWN_MESSAGE_INDEX" => Cause::UnknownMessageIndex,
            "MEGOLM_KEY_WITHHELD" => Cause::WithheldBySender,
            "MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE" => Cause::WithheldForUnverifiedDevice,
            "HISTORICAL_MESSAGE_USER_NOT_JOINED" => Cause::SentBeforeWeJoined,
            "HISTORICAL_MESSAGE_NO_KEY_BACKUP" => Cause::HistoricalNoKeyBackup,
            "HISTORICAL_MESSAGE_BACKUP_UNCONFIGURED" => Cause::HistoricalBackupUnconfigured,
            "HISTORICAL_MESSAGE_WORKING_BACKUP" => Cause::HistoricalWorkingBackup,
            "SENDER_IDENTITY_PREVIOUSLY_VERIFIED" => Cause::VerificationViolation,
            "UNSIGNED_SENDER_DEVICE" => Cause::UnsignedDevice,
            "UNKNOWN_SENDER_DEVICE" => Cause::UnknownDevice,
            _ => Cause::Unknown,
        }
    }
}

/// One failed decryption as the SDK reported it.
#[derive(Clone, Debug, Default)]
pub struct Failure<'a> {
    pub event_id: &'a str,
    pub room_id: Option<&'a str>,
    /// `event.decryptionFailureReason`.
    pub code: Option<&'a str>,
    /// The error the SDK passed with the event (its message).
    pub message: Option<&'a str>,
    /// The wire content has a string `algorithm` (`None`: not read).
    pub has_algorithm: Option<bool>,
}

#[derive(Clone, Debug)]
struct Tracked {
    cause: Cause,
    room_id: Option<String>,
    code: Option<String>,
    first_failed_at: u64,
    last_failed_at: u64,
    attempts: u64,
    /// Outlived the grace period: counted under `cause`.
    counted: bool,
}

/// One undecryptable event in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UtdEvent {
    pub event_id: String,
    pub room_id: Option<String>,
    pub code: Option<String>,
    pub first_failed_at: u64,
    pub last_failed_at: u64,
    pub attempts: u64,
}

/// Per cause: events counted (still failing past the grace period), when, and which.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CauseStats {
    pub count: u64,
    /// `data` | `key` | `trust` | `unknown`.
    pub kind: String,
    pub ke: Option<String>,
    /// The SDK's failure codes seen under this cause.
    pub codes: SortedMap<u64>,
    pub first_seen: Option<u64>,
    pub last_seen: Option<u64>,
    /// The longest-failing events still followed, at most `MAX_EVENTS_PER_CAUSE`.
    pub events: Vec<UtdEvent>,
    /// What else the page knows that explains this cause: `crypto_store_reset`
    /// when the SDK says "sent before this device logged in" about a device that
    /// never logged in anew but lost its crypto store (and the room keys in it)
    /// under the same device id.
    #[serde(default)]
    pub explained_by: Option<String>,
}

/// The causes the SDK gives for messages older than this device's keys.
pub const HISTORICAL: [&str; 3] = ["historical_no_key_backup", "historical_backup_unconfigured", "historical_working_backup"];

impl DecryptionReport {
    /// The store was reset under this device id: the "historical" failures are its loss.
    pub fn explain_store_reset(&mut self) {
        for (k, c) in self.causes.iter_mut() {
            if HISTORICAL.contains(&k.as_str()) {
                c.explained_by = Some("crypto_store_reset".into());
            }
        }
    }
}

/// The report's `decryption` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DecryptionReport {
    /// The SDK's decryption events are being watched.
    pub watching: bool,
    pub grace_period_ms: u64,
    /// Events counted as failures now (the sum over causes).
    pub failures: u64,
    /// Failed less than the grace period ago: not counted yet.
    pub pending: u64,
    /// Decrypted after the grace period: counted here, not as failures.
    pub late_decryptions: u64,
    pub max_late_ms: Option<u64>,
    /// Failed, then decrypted within the grace period.
    pub decrypted_within_grace: u64,
    /// Successful decryptions reported by the SDK.
    pub decrypted: u64,
    /// Events followed now, and the bound.
    pub tracked: u64,
    pub max_tracked: u64,
    /// Followed events forgotten to stay within the bound.
    pub evicted: u64,
    pub causes: SortedMap<CauseStats>,
}

/// Every cause, in the order of [`Cause`] (the index into the tracker's table).
const CAUSES: [Cause; 13] = [
    Cause::MalformedEvent,
    Cause::MissingRoomKey,
    Cause::UnknownMessageIndex,
    Cause::WithheldBySender,
    Cause::WithheldForUnverifiedDevice,
    Cause::SentBeforeWeJoined,
    Cause::HistoricalNoKeyBackup,
    Cause::HistoricalBackupUnconfigured,
    Cause::HistoricalWorkingBackup,
    Cause::VerificationViolation,
    Cause::UnsignedDevice,
    Cause::UnknownDevice,
    Cause::Unknown,
];

/// The tracker: bounded, driven by explicit time. Plain vectors and a fixed
/// table rather than maps and sorting: at most a thousand events, and every
/// map type or sort routine costs the wasm bundle kilobytes.
#[derive(Clone, Debug, Default)]
pub struct UtdTracker {
    watching: bool,
    events: Vec<(String, Tracked)>,
    causes: [Option<CauseStats>; 13],
    late: u64,
    max_late_ms: Option<u64>,
    within_grace: u64,
    decrypted: u64,
    evicted: u64,
}

impl UtdTracker {
    pub fn set_watching(&mut self, on: bool) {
        self.watching = on;
    }

    pub fn is_active(&self) -> bool {
        self.watching || !self.events.is_empty() || self.decrypted > 0 || self.causes.iter().any(Option::is_some)
    }

    fn find(&self, event_id: &str) -> Option<usize> {
        self.events.iter().position(|(id, _)| id == event_id)
    }

    pub fn decryption_failed(&mut self, f: &Failure, now: u64) {
        if f.event_id.is_empty() {
            return;
        }
        self.promote(now);
        let cause = Cause::of(f.code, f.message, f.has_algorithm);
        let i = match self.find(f.event_id) {
            Some(i) => i,
            None => {
                if self.events.len() >= MAX_TRACKED {
                    self.evict_oldest();
                }
                let t =
                    Tracked { cause, room_id: None, code: None, first_failed_at: now, last_failed_at: now, attempts: 0, counted: false };
                self.events.push((f.event_id.to_owned(), t));
                self.events.len() - 1
            }
        };
        let t = &mut self.events[i].1;
        let was = (t.counted, t.cause);
        t.attempts += 1;
        t.last_failed_at = now;
        t.cause = cause;
        t.code = f.code.map(str::to_owned);
        if let Some(r) = f.room_id {
            t.room_id = Some(r.to_owned());
        }
        let (code, first) = (t.code.clone(), t.first_failed_at);
        if !was.0 {
            return;
        }
        // A counted event that now fails for another reason moves to that cause.
        if was.1 != cause {
            self.stats(was.1).count -= 1;
            self.count(cause, code, first, now);
        }
        self.stats(cause).last_seen = Some(now);
    }

    pub fn decrypted(&mut self, event_id: &str, now: u64) {
        self.decrypted += 1;
        self.promote(now);
        let Some(i) = self.find(event_id) else { return };
        let (_, t) = self.events.swap_remove(i);
        let waited = now.saturating_sub(t.first_failed_at);
        if t.counted {
            self.stats(t.cause).count -= 1;
            self.late += 1;
            self.max_late_ms = Some(self.max_late_ms.map_or(waited, |m| m.max(waited)));
        } else {
            self.within_grace += 1;
        }
    }

    /// Failures older than the grace period become counted.
    fn promote(&mut self, now: u64) {
        for i in 0..self.events.len() {
            let t = &mut self.events[i].1;
            if t.counted || now.saturating_sub(t.first_failed_at) < GRACE_PERIOD_MS {
                continue;
            }
            t.counted = true;
            let (cause, code, first, last) = (t.cause, t.code.clone(), t.first_failed_at, t.last_failed_at);
            self.count(cause, code, first, last);
        }
    }

    fn count(&mut self, cause: Cause, code: Option<String>, first: u64, last: u64) {
        let s = self.stats(cause);
        s.count += 1;
        *s.codes.or_default(code.as_deref().unwrap_or_default()) += 1;
        s.first_seen = Some(s.first_seen.map_or(first, |f| f.min(first)));
        s.last_seen = Some(s.last_seen.map_or(last, |l| l.max(last)));
    }

    fn evict_oldest(&mut self) {
        let oldest = (0..self.events.len()).min_by_key(|&i| self.events[i].1.first_failed_at);
        if let Some(i) = oldest {
            // A counted event stays counted: it did fail, we only stop following it.
            self.events.swap_remove(i);
            self.evicted += 1;
        }
    }

    fn stats(&mut self, cause: Cause) -> &mut CauseStats {
        self.causes[cause as usize].get_or_insert_with(|| CauseStats {
            kind: cause.kind().to_owned(),
            ke: cause.ke().map(str::to_owned),
            ..Default::default()
        })
    }

    /// The section as of `now` (failures past the grace period are counted).
    pub fn report(&self, now: u64) -> DecryptionReport {
        let mut t = self.clone();
        t.promote(now);
        t.section()
    }

    /// The counted events of `cause`, longest-failing first, at most `MAX_EVENTS_PER_CAUSE`
    /// (picked by repeated minimum: no sort routine in the bundle).
    fn worst(&self, cause: Cause) -> Vec<UtdEvent> {
        let mut taken: Vec<usize> = Vec::new();
        while taken.len() < MAX_EVENTS_PER_CAUSE {
            let next = (0..self.events.len())
                .filter(|i| !taken.contains(i) && self.events[*i].1.counted && self.events[*i].1.cause == cause)
                .min_by_key(|&i| self.events[i].1.first_failed_at);
            let Some(i) = next else { break };
            taken.push(i);
        }
        taken
            .into_iter()
            .map(|i| {
                let (id, t) = &self.events[i];
                UtdEvent {
                    event_id: id.clone(),
                    room_id: t.room_id.clone(),
                    code: t.code.clone(),
                    first_failed_at: t.first_failed_at,
                    last_failed_at: t.last_failed_at,
                    attempts: t.attempts,
                }
            })
            .collect()
    }

    fn section(&self) -> DecryptionReport {
        let mut causes = SortedMap::new();
        for cause in CAUSES {
            // A cause never counted is left out; one whose events all decrypted later stays, with count 0.
            let Some(stats) = self.causes[cause as usize].as_ref().filter(|s| s.first_seen.is_some()) else { continue };
            let mut s = stats.clone();
            s.events = self.worst(cause);
            causes.insert(cause.as_str().to_owned(), s);
        }
        DecryptionReport {
            watching: self.watching,
            grace_period_ms: GRACE_PERIOD_MS,
            failures: causes.values().map(|c| c.count).sum(),
            pending: self.events.iter().filter(|(_, t)| !t.counted).count() as u64,
            late_decryptions: self.late,
            max_late_ms: self.max_late_ms,
            decrypted_within_grace: self.within_grace,
            decrypted: self.decrypted,
            tracked: self.events.len() as u64,
            max_tracked: MAX_TRACKED as u64,
            evicted: self.evicted,
            causes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail<'a>(id: &'a str, code: &'a str) -> Failure<'a> {
        Failure { event_id: id, room_id: Some("!r:hs"), code: Some(code), message: None, has_algorithm: Some(true) }
    }

    #[test]
    fn every_sdk_code_maps_to_its_cause() {
        let cases = [
            ("MEGOLM_UNKNOWN_INBOUND_SESSION_ID", Cause::MissingRoomKey, "key"),
            ("OLM_UNKNOWN_MESSAGE_INDEX", Cause::UnknownMessageIndex, "key"),
            ("MEGOLM_KEY_WITHHELD", Cause::WithheldBySender, "key"),
            ("MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE", Cause::WithheldForUnverifiedDevice, "key"),
            ("HISTORICAL_MESSAGE_USER_NOT_JOINED", Cause::SentBeforeWeJoined, "key"),
            ("HISTORICAL_MESSAGE_NO_KEY_BACKUP", Cause::HistoricalNoKeyBackup, "key"),
            ("HISTORICAL_MESSAGE_BACKUP_UNCONFIGURED", Cause::HistoricalBackupUnconfigured, "key"),
            ("HISTORICAL_MESSAGE_WORKING_BACKUP", Cause::HistoricalWorkingBackup, "key"),
            ("SENDER_IDENTITY_PREVIOUSLY_VERIFIED", Cause::VerificationViolation, "trust"),
            ("UNSIGNED_SENDER_DEVICE", Cause::UnsignedDevice, "trust"),
            ("UNKNOWN_SENDER_DEVICE", Cause::UnknownDevice, "trust"),
            ("UNKNOWN_ERROR", Cause::Unknown, "unknown"),
            ("SOMETHING_NEW", Cause::Unknown, "unknown"),
        ];
        for (code, cause, kind) in cases {
            assert_eq!(Cause::of(Some(code), None, Some(true)), cause, "{code}");
            assert_eq!(cause.kind(), kind, "{code}");
            assert_eq!(cause.ke(), None);
        }
        assert_eq!(Cause::of(None, None, None), Cause::Unknown);
    }

    #[test]
    fn a_missing_algorithm_is_ke3_whatever_the_code() {
        assert_eq!(Cause::of(Some("UNKNOWN_ERROR"), None, Some(false)), Cause::MalformedEvent);
        let msg = "DecryptionError[msg: missing field `algorithm` at line 1 column 138]";
        assert_eq!(Cause::of(Some("UNKNOWN_ERROR"), Some(msg), None), Cause::MalformedEvent);
        assert_eq!(Cause::MalformedEvent.kind(), "data");
        assert_eq!(Cause::MalformedEvent.ke(), Some("KE-3"));
        // Another missing field is not KE-3.
        assert_eq!(Cause::of(Some("UNKNOWN_ERROR"), Some("missing field `session_id`"), Some(true)), Cause::Unknown);
    }

    #[test]
    fn a_failure_counts_only_after_the_grace_period() {
        let mut t = UtdTracker::default();
        t.decryption_failed(&fail("$a", "MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), 1_000);
        let r = t.report(1_000 + GRACE_PERIOD_MS - 1);
        assert_eq!((r.failures, r.pending, r.causes.len()), (0, 1, 0));
        let r = t.report(1_000 + GRACE_PERIOD_MS);
        assert_eq!((r.failures, r.pending), (1, 0));
        let c = &r.causes["missing_room_key"];
        assert_eq!((c.count, c.kind.as_str(), c.first_seen, c.last_seen), (1, "key", Some(1_000), Some(1_000)));
        assert_eq!(c.codes["MEGOLM_UNKNOWN_INBOUND_SESSION_ID"], 1);
        assert_eq!(c.events[0].event_id, "$a");
        assert_eq!(c.events[0].room_id.as_deref(), Some("!r:hs"));
    }

    #[test]
    fn decrypted_within_grace_is_neither_failure_nor_late() {
        let mut t = UtdTracker::default();
        t.decryption_failed(&fail("$a", "MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), 0);
        t.decrypted("$a", GRACE_PERIOD_MS - 1);
        let r = t.report(60_000);
        assert_eq!((r.failures, r.late_decryptions, r.decrypted_within_grace, r.decrypted, r.tracked), (0, 0, 1, 1, 0));
        assert!(r.causes.is_empty());
    }

    #[test]
    fn a_late_decryption_is_counted_apart_and_leaves_the_failures() {
        let mut t = UtdTracker::default();
        t.decryption_failed(&fail("$a", "MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), 0);
        t.decryption_failed(&fail("$b", "MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), 10);
        assert_eq!(t.report(5_000).failures, 2);
        t.decrypted("$a", 9_000);
        let r = t.report(9_500);
        assert_eq!((r.failures, r.late_decryptions, r.max_late_ms), (1, 1, Some(9_000)));
        let c = &r.causes["missing_room_key"];
        assert_eq!(c.count, 1);
        assert_eq!(c.events.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["$b"]);
        // A success for an event never seen failing is only counted as a decryption.
        t.decrypted("$other", 9_600);
        let r = t.report(9_700);
        assert_eq!((r.decrypted, r.late_decryptions), (2, 1));
    }

    #[test]
    fn a_retry_with_another_code_moves_the_event_to_that_cause() {
        let mut t = UtdTracker::default();
        t.decryption_failed(&fail("$a", "MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), 0);
        assert_eq!(t.report(5_000).causes["missing_room_key"].count, 1);
        t.decryption_failed(&fail("$a", "MEGOLM_KEY_WITHHELD"), 6_000);
        let r = t.report(6_001);
        assert_eq!(r.causes["missing_room_key"].count, 0, "kept, with nothing left in it");
        let w = &r.causes["withheld_by_sender"];
        assert_eq!(
            (w.count, w.events[0].attempts, w.events[0].code.as_deref(), w.last_seen),
            (1, 2, Some("MEGOLM_KEY_WITHHELD"), Some(6_000))
        );
        assert_eq!(r.failures, 1);
        // The same code again within the grace period: one event, two attempts, still pending.
        let mut t = UtdTracker::default();
        t.decryption_failed(&fail("$b", "OLM_UNKNOWN_MESSAGE_INDEX"), 0);
        t.decryption_failed(&fail("$b", "OLM_UNKNOWN_MESSAGE_INDEX"), 100);
        let r = t.report(200);
        assert_eq!((r.pending, r.tracked), (1, 1));
        assert_eq!(t.report(4_000).causes["unknown_message_index"].events[0].attempts, 2);
    }

    #[test]
    fn ke3_is_its_own_cause_with_event_and_room() {
        let mut t = UtdTracker::default();
        let f = Failure {
            event_id: "$bad",
            room_id: Some("!room:hs"),
            code: Some("UNKNOWN_ERROR"),
            message: Some("missing field `algorithm` at line 1 column 57"),
            has_algorithm: Some(false),
        };
        t.decryption_failed(&f, 0);
        t.decryption_failed(&fail("$k", "MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), 0);
        let r = t.report(GRACE_PERIOD_MS);
        let m = &r.causes["malformed_event"];
        assert_eq!((m.count, m.kind.as_str(), m.ke.as_deref()), (1, "data", Some("KE-3")));
        assert_eq!((m.events[0].event_id.as_str(), m.events[0].room_id.as_deref()), ("$bad", Some("!room:hs")));
        assert_eq!(r.causes["missing_room_key"].count, 1);
    }

    #[test]
    fn memory_stays_bounded_and_the_oldest_goes_first() {
        let mut t = UtdTracker::default();
        for i in 0..(MAX_TRACKED as u64 + 50) {
            t.decryption_failed(&fail(&format!("$e{i}"), "MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), i);
        }
        let r = t.report(1_000_000);
        assert_eq!((r.tracked, r.evicted), (MAX_TRACKED as u64, 50));
        let c = &r.causes["missing_room_key"];
        assert_eq!(c.events.len(), MAX_EVENTS_PER_CAUSE);
        assert_eq!(c.events[0].event_id, "$e50", "the 50 oldest were forgotten");
        // Those evicted within the grace period were never counted; the rest are.
        assert_eq!(c.count, MAX_TRACKED as u64);
        // Evicted after they were counted: they stay counted.
        let mut t = UtdTracker::default();
        t.decryption_failed(&fail("$old", "OLM_UNKNOWN_MESSAGE_INDEX"), 0);
        for i in 0..MAX_TRACKED as u64 {
            t.decryption_failed(&fail(&format!("$n{i}"), "MEGOLM_UNKNOWN_INBOUND_SESSION_ID"), 10_000 + i);
        }
        let r = t.report(10_000 + MAX_TRACKED as u64);
        assert_eq!((r.causes["unknown_message_index"].count, r.evicted), (1, 1));
        assert!(r.causes["unknown_message_index"].events.is_empty());
    }

    #[test]
    fn error_texts_are_read_never_stored_and_empty_ids_ignored() {
        let mut t = UtdTracker::default();
        let long = format!("bad thing access_token=syt_c2VjcmV0_AbCdEfGhIjKlMnOpQrSt_0a1b2c {}", "x".repeat(5_000));
        t.decryption_failed(&Failure { event_id: "$a", message: Some(&long), ..Default::default() }, 0);
        t.decryption_failed(&Failure { event_id: "", code: Some("UNKNOWN_ERROR"), ..Default::default() }, 0);
        let r = t.report(GRACE_PERIOD_MS);
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("syt_c2VjcmV0") && text.len() < 1_000, "{text}");
        assert_eq!((r.tracked, r.failures, r.causes["unknown"].count), (1, 1, 1));
    }

    #[test]
    fn the_section_reads_back_and_defaults_when_fields_are_missing() {
        let mut t = UtdTracker::default();
        t.set_watching(true);
        t.decryption_failed(&fail("$a", "MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE"), 0);
        let r = t.report(GRACE_PERIOD_MS);
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"lateDecryptions\":0") && text.contains("\"withheld_for_unverified_device\""), "{text}");
        assert_eq!(serde_json::from_str::<DecryptionReport>(&text).unwrap(), r);
        let old: DecryptionReport = serde_json::from_str("{}").unwrap();
        assert_eq!((old.watching, old.failures), (false, 0));
    }
}
