//! Small string helpers shared by the parsers and the ring buffer.

use crate::prelude::*;

/// `format!` for plain pieces: joins string-like pieces (`&str`, `String`,
/// numbers through [`dec`]) with [`concat`], without `core::fmt`, which the
/// wasm bundle leaves out. `cat!("HTTP ", dec(status))` is `format!("HTTP {status}")`.
#[macro_export]
macro_rules! cat {
    ($($piece:expr),+ $(,)?) => {
        $crate::support::text::concat(&[$(::core::convert::AsRef::<str>::as_ref(&$piece)),+])
    };
}

/// `parts.concat()`: one plain copy loop instead of alloc's generic join.
pub fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// `n` in decimal (`n.to_string()` without `core::fmt`).
pub fn dec(n: u64) -> String {
    let mut s = String::new();
    crate::support::json::write_u64(n, &mut s);
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

// Substring search and slicing without panics. core's `str::find(&str)`
// searcher and `&s[a..b]` carry a panic path that formats (`slice_error_fail`:
// `char` Debug, the unicode tables), which the wasm bundle leaves out. A match
// of UTF-8 in UTF-8 starts and ends on char boundaries, so the offsets these
// return always slice cleanly.

/// Byte offset of the first `needle` in `hay` (`hay.find(needle)`).
pub fn find(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    let Some(&first) = n.first() else { return Some(0) };
    hay.as_bytes().windows(n.len()).position(|w| w[0] == first && w == n)
}

/// `hay.contains(needle)`.
pub fn contains(hay: &str, needle: &str) -> bool {
    find(hay, needle).is_some()
}

/// `hay.split_once(needle)`.
pub fn split_once<'a>(hay: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let i = find(hay, needle)?;
    Some((hay.get(..i)?, hay.get(i + needle.len()..)?))
}

/// `hay.rsplit_once(b)` for an ASCII byte (no reverse char searcher in the bundle).
pub fn rsplit_once_ascii(hay: &str, b: u8) -> Option<(&str, &str)> {
    let i = hay.bytes().rposition(|x| x == b)?;
    Some((hay.get(..i)?, hay.get(i + 1..)?))
}

/// What follows the first `needle` in `hay`.
pub fn after<'a>(hay: &'a str, needle: &str) -> Option<&'a str> {
    hay.get(find(hay, needle)? + needle.len()..)
}

/// `&s[from..to]` for offsets on char boundaries (`""` if one is not).
pub fn slice(s: &str, from: usize, to: usize) -> &str {
    s.get(from..to).unwrap_or_default()
}

/// `s` cut to at most `max` bytes, on a char boundary.
pub fn head(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    loop {
        match s.get(..end) {
            Some(h) => return h,
            None => end -= 1, // `..0` always slices
        }
    }
}

/// Largest index <= `max` that is a char boundary of `s` (stable-Rust stand-in
/// for `str::floor_char_boundary`).
pub fn floor_char_boundary(s: &str, max: usize) -> usize {
    head(s, max).len()
}

/// Cut `s` to at most `max` bytes on a char boundary, marking the cut with
/// `…[truncated N bytes]` so a reader knows evidence is missing.
pub fn truncate_marked(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_owned(), false);
    }
    let kept = head(s, max);
    (cat!(kept, "…[truncated ", dec((s.len() - kept.len()) as u64), " bytes]"), true)
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
    fn search_and_slices_are_std() {
        let hay = "ab é/_matrix/ abab/_matrix/";
        for needle in ["", "a", "ab", "bab", "é", "é/", "/_matrix/", "x", "ab é/_matrix/ abab/_matrix/!"] {
            assert_eq!(find(hay, needle), hay.find(needle), "{needle}");
            assert_eq!(split_once(hay, needle), hay.split_once(needle), "{needle}");
            assert_eq!(after(hay, needle), hay.split_once(needle).map(|(_, a)| a), "{needle}");
        }
        for (h, b) in [("@a:hs:DEV", b':'), ("x [400] y [12ms]", b'['), ("no", b':'), (":", b':'), ("é:é", b':')] {
            assert_eq!(rsplit_once_ascii(h, b), h.rsplit_once(b as char), "{h}");
        }
        assert_eq!(find("", ""), Some(0));
        assert_eq!(find("", "a"), None);
        for max in 0..=hay.len() + 1 {
            let h = head(hay, max);
            assert!(h.len() <= max && hay.starts_with(h) && (h.len() == hay.len() || h.len() + 2 > max), "{max}");
        }
        assert_eq!(slice(hay, 3, 5), "é");
        assert_eq!(slice(hay, 3, 4), "");
    }

    #[test]
    fn truncation_respects_chars() {
        let (t, cut) = truncate_marked("ééé", 3);
        assert!(cut);
        assert!(t.starts_with('é') && t.contains("[truncated 4 bytes]"));
        assert_eq!(truncate_marked("abc", 3), ("abc".into(), false));
    }
}
