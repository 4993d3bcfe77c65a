//! Small string helpers shared by the parsers and the ring buffer.

use crate::prelude::*;

/// `format!` for plain pieces: joins string-like pieces (`&str`, `String`,
/// numbers through [`dec`]) without `core::fmt`, which the wasm bundle
/// leaves out. `cat!("HTTP ", dec(status))` is `format!("HTTP {status}")`.
#[macro_export]
macro_rules! cat {
    ($($piece:expr),+ $(,)?) => {
        [$(::core::convert::AsRef::<str>::as_ref(&$piece)),+].concat()
    };
}

/// `n` in decimal (`n.to_string()` without `core::fmt`).
pub fn dec(n: u64) -> String {
    let mut s = String::new();
    crate::json::write_u64(n, &mut s);
    s
}

/// `n` in decimal, zero-padded to at least `width` digits (`{n:0width$}`).
fn push_padded(out: &mut String, n: u64, width: usize) {
    let digits = dec(n);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// Largest index <= `max` that is a char boundary of `s` (stable-Rust stand-in
/// for `str::floor_char_boundary`).
pub fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Cut `s` to at most `max` bytes on a char boundary, marking the cut with
/// `…[truncated N bytes]` so a reader knows evidence is missing.
pub fn truncate_marked(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_owned(), false);
    }
    let cut = floor_char_boundary(s, max);
    let (kept, cut_off) = s.split_at(cut);
    (cat!(kept, "…[truncated ", dec(cut_off.len() as u64), " bytes]"), true)
}

/// ISO-8601 UTC (`2026-11-21T20:13:37.123Z`) from Unix milliseconds, without
/// pulling a date crate into the wasm bundle.
pub fn iso8601(ms: u64) -> String {
    let ms = ms.min(i64::MAX as u64 / 2) as i64;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // All parts are >= 0 here: the clamp above keeps `ms` and the year positive.
    let mut out = String::with_capacity(24);
    for (n, width, after) in [
        (y, 4, '-'),
        (m, 2, '-'),
        (d, 2, 'T'),
        (rem / 3_600_000, 2, ':'),
        (rem / 60_000 % 60, 2, ':'),
        (rem / 1000 % 60, 2, '.'),
        (rem % 1000, 3, 'Z'),
    ] {
        push_padded(&mut out, n as u64, width);
        out.push(after);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_292_017_123), "2026-11-21T20:13:37.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn cat_and_dec_are_format() {
        for n in [0, 7, 10, 99, 1_234_567_890, u64::MAX] {
            assert_eq!(dec(n), n.to_string());
        }
        let owned = String::from("device");
        assert_eq!(cat!("HTTP ", dec(429), " ", owned, "|", &owned), format!("HTTP {} {owned}|{owned}", 429));
    }

    #[test]
    fn truncation_respects_chars() {
        let (t, cut) = truncate_marked("ééé", 3);
        assert!(cut);
        assert!(t.starts_with('é') && t.contains("[truncated 4 bytes]"));
        assert_eq!(truncate_marked("abc", 3), ("abc".into(), false));
    }
}
