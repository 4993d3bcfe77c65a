//! What key material and tokens look like, whatever name they sit under.
//!
//! Random bytes in base64, base64url, base58 or hex change character class
//! (lower, upper, digit) at about every second character; words,
//! identifiers and camelCase names change it every six or more. That ratio,
//! with a length floor, decides.

/// The base58 alphabet (Bitcoin's, as the Matrix spec uses for recovery keys).
pub(crate) const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

pub(crate) fn is_base58(c: u8) -> bool {
    BASE58.contains(&c)
}

fn class(c: u8) -> u8 {
    if c.is_ascii_lowercase() {
        1
    } else if c.is_ascii_uppercase() {
        2
    } else if c.is_ascii_digit() {
        3
    } else {
        0
    }
}

/// Whether `run` (letters, digits and base64 punctuation) looks like key
/// material or a token.
pub(crate) fn is_key_material(run: &[u8]) -> bool {
    let (mut alnum, mut digits, mut letters, mut changes) = (0usize, 0usize, 0usize, 0usize);
    let mut last = 0u8;
    for &c in run {
        let k = class(c);
        if k == 0 {
            continue;
        }
        alnum += 1;
        if k == 3 {
            digits += 1;
        } else {
            letters += 1;
        }
        if last != 0 && last != k {
            changes += 1;
        }
        last = k;
    }
    if alnum < 16 || letters == 0 {
        return false;
    }
    // Changes per hundred characters.
    let rate = changes * 100 / (alnum - 1);
    // A long run of letters and digits only (dots aside), in both cases, with digits: no word or
    // identifier is spelled so, whatever its class changes (`aaaaaaaaaaQaaaaaaaa000z`).
    let mixed = run.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'.')
        && alnum >= 20
        && digits >= 3
        && run.iter().any(u8::is_ascii_uppercase)
        && run.iter().filter(|c| c.is_ascii_lowercase()).count() >= 8;
    (alnum >= 24 && rate >= 35) || rate >= 50 || (alnum >= 32 && digits >= 4 && rate >= 20) || (alnum >= 48 && rate >= 15) || mixed
}

/// UUIDs (`8-4-4-4-12` hex) are request and widget ids, not secrets.
pub(crate) fn is_uuid(run: &[u8]) -> bool {
    run.len() == 36 && run.iter().enumerate().all(|(i, &c)| if matches!(i, 8 | 13 | 18 | 23) { c == b'-' } else { c.is_ascii_hexdigit() })
}

/// A JWT or JWE: `eyJ…` segments of base64url joined by dots (3 or 5).
pub(crate) fn is_jwt(run: &[u8]) -> bool {
    run.starts_with(b"eyJ") && run.len() >= 24 && run.iter().filter(|&&c| c == b'.').count() >= 2
}

/// Synapse (`syt_`, `syr_`, `syl_`) and MAS (`mat_`, `mar_`, `mct_`, `mcr_`) tokens.
pub(crate) fn token_prefix(run: &[u8]) -> Option<super::SecretKind> {
    use super::SecretKind::*;
    if run.len() < 12 || run[3] != b'_' {
        return None;
    }
    match &run[..3] {
        b"syt" | b"mat" | b"mct" => Some(AccessToken),
        b"syr" | b"mar" | b"mcr" => Some(RefreshToken),
        b"syl" => Some(LoginToken),
        _ => None,
    }
}
