//! One-time key ids and the counter behind them (vodozemac's KeyId: a per-account counter from 0, unpadded base64 of 8 big-endian bytes).
//!
//! vodozemac numbers keys from 0 per account and names each with the unpadded
//! standard base64 of the 8 big-endian counter bytes (11 chars); libolm used a
//! 4-byte counter (6 chars). The counter tells *how* the store diverged: a tiny
//! one means the account was re-created under an old device id.

/// Which library's id scheme a key id follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdScheme {
    Vodozemac,
    Libolm,
    Unknown,
}

impl IdScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            IdScheme::Vodozemac => "vodozemac",
            IdScheme::Libolm => "libolm",
            IdScheme::Unknown => "unknown",
        }
    }
}

fn b64_value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => (c - b'A') as u32,
        b'a'..=b'z' => (c - b'a') as u32 + 26,
        b'0'..=b'9' => (c - b'0') as u32 + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// Decode a key id into (scheme, counter). `None` for ids that are not an
/// unpadded base64 counter of 4 or 8 bytes (e.g. fallback ids chosen by other
/// clients); such ids are still valid, we just cannot say anything about them.
pub fn decode_counter(key_id: &str) -> Option<(IdScheme, u64)> {
    let (scheme, bytes) = match key_id.len() {
        11 => (IdScheme::Vodozemac, 8),
        6 => (IdScheme::Libolm, 4),
        _ => return None,
    };
    let mut acc: u128 = 0;
    for &c in key_id.as_bytes() {
        acc = (acc << 6) | b64_value(c)? as u128;
    }
    // 11 chars carry 66 bits for 64 data bits, 6 chars 36 for 32: the spare
    // low bits must be zero in a canonical encoding.
    let spare = key_id.len() as u32 * 6 - bytes * 8;
    if acc & ((1u128 << spare) - 1) != 0 {
        return None;
    }
    Some((scheme, (acc >> spare) as u64))
}

/// Encode a counter the way vodozemac does; used by tests and by the triage
/// tooling to name neighbouring ids.
pub fn encode_vodozemac(counter: u64) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let acc = (counter as u128) << 2;
    (0..11).rev().map(|i| ALPHABET[((acc >> (i * 6)) & 63) as usize] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_ids_decode() {
        assert_eq!(decode_counter("AAAAAAAAAAA"), Some((IdScheme::Vodozemac, 0)));
        assert_eq!(decode_counter("AAAAAAAAAA0"), Some((IdScheme::Vodozemac, 13)));
        assert_eq!(decode_counter("AAAAAAAAADI"), Some((IdScheme::Vodozemac, 50)));
        assert_eq!(decode_counter("AAAAAAAAAUM"), Some((IdScheme::Vodozemac, 323)));
        assert_eq!(decode_counter("AAAAAQ"), Some((IdScheme::Libolm, 1)));
    }

    #[test]
    fn non_counter_ids_are_none() {
        for id in ["", "AAAA", "AAAAAAAAAA!", "AAAAAAAAAAB", "AAAAAR", "fallback_1", "AAAAAAAAAAAA"] {
            assert_eq!(decode_counter(id), None, "{id}");
        }
    }

    #[test]
    fn round_trip() {
        for n in [0u64, 1, 13, 50, 63, 64, 323, 4095, 1 << 40, u64::MAX] {
            let id = encode_vodozemac(n);
            assert_eq!(id.len(), 11);
            assert_eq!(decode_counter(&id), Some((IdScheme::Vodozemac, n)), "{id}");
        }
    }
}
