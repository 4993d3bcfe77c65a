//! What one `/sync` answer says about this device's keys: the server's
//! one-time-key counts and a short account of
//! the to-device events it delivered. The fetch tap parses the answer with the
//! browser's `JSON.parse` and hands over a summary in plain text
//! ([`SyncFacts::from_summary`]: a few lines, no JSON parser needed in the wasm);
//! the core never sees the raw body in the browser.
//!
//! v3 `/sync` (spec: client-server API, end-to-end encryption, "Extensions to
//! /sync") and simplified sliding sync (MSC4186, `extensions.e2ee` and
//! `extensions.to_device`) carry the same fields.

use crate::support::text::head;
use serde::{Deserialize, Serialize};

/// To-device events kept per answer (the tap summarises no more either).
pub const MAX_TO_DEVICE: usize = 64;
/// Strings from the summary are cut to this many bytes (ids and keys are shorter).
const MAX_STR: usize = 256;

/// One to-device event, reduced to who sent it and whom it was encrypted for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ToDeviceFact {
    /// Event type (`m.room.encrypted`, `m.room_key_request`, …).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The sending user.
    pub sender: Option<String>,
    /// `content.algorithm` (`m.olm.v1.curve25519-aes-sha2` for Olm).
    pub algorithm: Option<String>,
    /// `content.sender_key`: the sender's curve25519 key.
    pub sender_key: Option<String>,
    /// The keys of `content.ciphertext`: the curve25519 keys the event was encrypted for.
    pub recipient_keys: Vec<String>,
    /// `content["org.matrix.msgid"]`, when the sender set one.
    pub msgid: Option<String>,
}

/// What the core learns from one `/sync` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncFacts {
    /// `device_one_time_keys_count`: unclaimed one-time keys the server holds for
    /// this device, per algorithm, in the answer's order. `None` when the answer
    /// had no such field.
    pub otk_counts: Option<Vec<(String, u64)>>,
    /// The first [`MAX_TO_DEVICE`] to-device events.
    pub to_device: Vec<ToDeviceFact>,
    /// How many to-device events the answer carried (all of them).
    pub to_device_total: u64,
}

fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| head(s, MAX_STR).to_owned())
}

impl SyncFacts {
    /// The signed curve25519 count (the one the SDK tops up), if the answer had counts.
    /// Synapse always reports this algorithm; counts without it mean zero.
    pub fn signed_curve25519(&self) -> Option<u64> {
        self.otk_counts.as_ref().map(|c| c.iter().find(|(k, _)| k == "signed_curve25519").map_or(0, |(_, n)| *n))
    }

    /// Reads the fetch tap's summary (`syncSummary` in js/http.js), one fact a line,
    /// fields without whitespace:
    ///
    /// ```text
    /// otk signed_curve25519=50 …     device_one_time_keys_count (no line: no such field)
    /// total 70                       to-device events in the answer
    /// ev TYPE\tSENDER\tALGORITHM\tSENDER_KEY\tMSGID\tKEY1 KEY2   one per event (empty: absent)
    /// ```
    ///
    /// Never fails: unknown or malformed lines are skipped, everything is bounded.
    /// Plain loops: iterator chains here cost the wasm about 1 KiB more.
    pub fn from_summary(summary: &str) -> SyncFacts {
        let mut f = SyncFacts::default();
        for line in summary.lines().take(MAX_TO_DEVICE + 8) {
            let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
            if tag == "otk" {
                let mut counts = Vec::new();
                for pair in rest.split(' ').take(16) {
                    if let Some((Some(k), Ok(n))) = pair.split_once('=').map(|(k, n)| (text(k), n.parse())) {
                        counts.push((k, n));
                    }
                }
                f.otk_counts = Some(counts);
            } else if tag == "total" {
                f.to_device_total = rest.parse().unwrap_or(0);
            } else if tag == "ev" && f.to_device.len() < MAX_TO_DEVICE {
                let mut it = rest.split('\t');
                let mut field = || it.next().and_then(text);
                let (event_type, sender, algorithm, sender_key, msgid) = (field(), field(), field(), field(), field());
                let mut recipient_keys = Vec::new();
                for k in it.next().unwrap_or("").split(' ').take(8) {
                    recipient_keys.extend(text(k));
                }
                let event_type = event_type.unwrap_or_default();
                f.to_device.push(ToDeviceFact { event_type, sender, algorithm, sender_key, recipient_keys, msgid });
            }
        }
        f.to_device_total = f.to_device_total.max(f.to_device.len() as u64);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_the_tap_writes() {
        let text = "otk signed_curve25519=37 curve25519=0\ntotal 70\n\
            ev m.room.encrypted\t@a:hs\tm.olm.v1.curve25519-aes-sha2\tSK\tm1\tK1 K2\n\
            ev m.dummy\t@b:hs\t\t\t\t\n";
        let f = SyncFacts::from_summary(text);
        assert_eq!(f.signed_curve25519(), Some(37));
        assert_eq!(f.otk_counts.as_ref().map(Vec::len), Some(2));
        assert_eq!((f.to_device.len(), f.to_device_total), (2, 70));
        let e = &f.to_device[0];
        assert_eq!((e.event_type.as_str(), e.sender_key.as_deref(), e.msgid.as_deref()), ("m.room.encrypted", Some("SK"), Some("m1")));
        assert_eq!(e.recipient_keys, vec!["K1", "K2"]);
        let plain = &f.to_device[1];
        assert_eq!((plain.sender.as_deref(), plain.algorithm.as_deref(), plain.msgid.as_deref()), (Some("@b:hs"), None, None));
        assert!(plain.recipient_keys.is_empty());
    }

    #[test]
    fn counts_absent_differ_from_zero_and_odd_input_is_not_fatal() {
        let none = SyncFacts::from_summary("total 0\n");
        assert_eq!(none.signed_curve25519(), None, "no field: no statement about the count");
        assert_eq!(SyncFacts::from_summary("otk\n").signed_curve25519(), Some(0), "counts without it: zero");
        let odd = SyncFacts::from_summary("otk signed_curve25519=-1 x=5 =3 y\ntotal x\nev\nnonsense here\n\n");
        assert_eq!((odd.signed_curve25519(), odd.otk_counts.as_ref().map(Vec::len)), (Some(0), Some(1)));
        assert_eq!((odd.to_device.len(), odd.to_device[0].event_type.as_str(), odd.to_device_total), (1, "", 1));
        assert_eq!(SyncFacts::from_summary(""), SyncFacts::default());
    }

    #[test]
    fn bounded_whatever_the_input() {
        let long = "k".repeat(10_000);
        let keys = vec![long.as_str(); 50].join(" ");
        let mut text = format!("otk signed_curve25519={}\ntotal 500\n", u64::MAX);
        for i in 0..500 {
            text.push_str(&format!("ev {long}\t@u{i}:hs\t\t\t\t{keys}\n"));
        }
        let f = SyncFacts::from_summary(&text);
        assert_eq!((f.to_device.len(), f.to_device_total, f.signed_curve25519()), (MAX_TO_DEVICE, 500, Some(u64::MAX)));
        assert!(f.to_device.iter().all(|e| e.event_type.len() <= MAX_STR && e.recipient_keys.len() == 8));
    }
}
