//! Small string helpers shared by the parsers and the ring buffer: cutting text on a
//! char boundary with a visible mark, and ISO-8601 from Unix milliseconds (hand-written:
//! twenty lines instead of a date crate in the wasm bundle).

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
    (format!("{kept}…[truncated {} bytes]", (s.len() - kept.len()) as u64), true)
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
    let (h, min, sec, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}.{milli:03}Z")
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
    fn head_cuts_on_char_boundaries() {
        let hay = "ab é/_matrix/ abab/_matrix/";
        for max in 0..=hay.len() + 1 {
            let h = head(hay, max);
            assert!(h.len() <= max && hay.starts_with(h) && (h.len() == hay.len() || h.len() + 2 > max), "{max}");
        }
    }

    #[test]
    fn truncation_respects_chars() {
        let (t, cut) = truncate_marked("ééé", 3);
        assert!(cut);
        assert!(t.starts_with('é') && t.contains("[truncated 4 bytes]"));
        assert_eq!(truncate_marked("abc", 3), ("abc".into(), false));
    }
}
