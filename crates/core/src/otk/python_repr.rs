//! A small parser for Python `repr()` of JSON-like values, and for JSON.
//!
//! Synapse formats the *new* key of a one-time-key conflict with `%r`
//! (REFERENCE §1): single quotes, `True`/`False`/`None`. We need it as JSON to
//! compare it with the stored old key the way Synapse does.
//!
//! The same parser reads JSON (`true`/`false`/`null`, JSON escapes): the
//! keys/upload bodies, the old key and values handed over from JS. It keeps
//! serde_json's deserializer (and its error texts) out of the wasm bundle.
//! It is lenient (single quotes, tuples, trailing commas are accepted), which
//! is fine for reading facts; it never panics and bounds its nesting.

use crate::prelude::*;
use crate::support::json::{Map, Number, ToJson, Value};

/// Parse one value at the start of `s`; returns it and the bytes consumed.
pub fn parse_prefix(s: &str) -> Option<(Value, usize)> {
    let mut p = Parser { s: s.as_bytes(), src: s, i: 0, depth: 0 };
    let v = p.value()?;
    Some((v, p.i))
}

/// Parse a whole JSON text (surrounding whitespace allowed); `None` if anything
/// but whitespace follows the value or the text is not readable.
pub fn parse_json(s: &str) -> Option<Value> {
    let mut p = Parser { s: s.as_bytes(), src: s, i: 0, depth: 0 };
    let v = p.value()?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    depth: u32,
}

// Deep nesting in a hostile line must not blow the (small, wasm) stack.
const MAX_DEPTH: u32 = 64;

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\n' | b'\t' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.ws();
        match *self.s.get(self.i)? {
            b'{' => self.container(b'}', true),
            b'[' => self.container(b']', false),
            b'(' => self.container(b')', false),
            b'\'' | b'"' => self.string().map(Value::String),
            b'T' => self.word("True", Value::Bool(true)),
            b'F' => self.word("False", Value::Bool(false)),
            b'N' => self.word("None", Value::Null),
            b't' => self.word("true", Value::Bool(true)),
            b'f' => self.word("false", Value::Bool(false)),
            b'n' => self.word("null", Value::Null),
            _ => self.number(),
        }
    }

    fn word(&mut self, w: &str, v: Value) -> Option<Value> {
        if self.s.get(self.i..).is_some_and(|rest| rest.starts_with(w.as_bytes())) {
            self.i += w.len();
            Some(v)
        } else {
            None
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        let neg = self.s.get(self.i) == Some(&b'-');
        if neg {
            self.i += 1;
        }
        // Digits while they fit in `mant`; `exp` is the power of ten.
        let (mut mant, mut exp, mut exact) = (0u64, 0i32, true);
        let mut frac = false;
        let mut int = true;
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b'0'..=b'9' => match mant.checked_mul(10).and_then(|m| m.checked_add((c - b'0') as u64)) {
                    Some(m) => {
                        mant = m;
                        if frac {
                            exp -= 1;
                        }
                    }
                    None => {
                        exact = exact && c == b'0';
                        if !frac {
                            exp += 1;
                        }
                    }
                },
                b'.' if !frac => {
                    frac = true;
                    int = false;
                }
                _ => break,
            }
            self.i += 1;
        }
        if self.i == start + neg as usize || (frac && self.s[self.i - 1] == b'.') {
            return None;
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            int = false;
            self.i += 1;
            let eneg = match self.s.get(self.i) {
                Some(b'-') => { self.i += 1; true }
                Some(b'+') => { self.i += 1; false }
                _ => false,
            };
            let (mut e, at) = (0i32, self.i);
            while let Some(&c @ b'0'..=b'9') = self.s.get(self.i) {
                e = e.saturating_mul(10).saturating_add((c - b'0') as i32);
                self.i += 1;
            }
            if self.i == at {
                return None;
            }
            exp = exp.saturating_add(if eneg { -e } else { e });
        }
        if int && exact && exp == 0 {
            if !neg {
                return Some(Value::from(mant));
            }
            if mant <= i64::MAX as u64 + 1 {
                return Some(Value::from((mant as i64).wrapping_neg()));
            }
        }
        // Exact when mant < 2^53 and |exp| <= 22 (powers of ten up to 1e22 are exact
        // doubles); otherwise within an ulp or two, which is enough for a report.
        // Not core's float parser: its tables would double this module's size in wasm.
        let mut f = mant as f64;
        let mut e = exp;
        while e > 0 {
            let k = e.min(22);
            f *= pow10(k);
            e -= k;
        }
        while e < 0 {
            let k = (-e).min(22);
            f /= pow10(k);
            e += k;
        }
        // Keep the text for writing (no float formatter in the bundle); the
        // grammar above is JSON's but for leading zeros, which JSON forbids.
        let f = if neg { -f } else { f };
        if !f.is_finite() {
            return Some(Value::Null); // JSON has no infinity (serde_json writes null too)
        }
        let (sign, mut digits) = self.src.get(start..self.i)?.split_at_checked(neg as usize)?;
        while let Some(rest) = digits.strip_prefix('0').filter(|r| r.starts_with(|c: char| c.is_ascii_digit())) {
            digits = rest;
        }
        let text = cat!(sign, digits);
        Some(Value::Number(Number::F(f, text.into())))
    }

    fn container(&mut self, close: u8, is_dict: bool) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        let mut map = Map::new();
        let mut arr = Vec::new();
        if !self.eat(close) {
            loop {
                if is_dict {
                    self.ws();
                    let k = match self.value()? {
                        Value::String(k) => k,
                        other => other.to_json_string(),
                    };
                    if !self.eat(b':') {
                        return None;
                    }
                    let v = self.value()?;
                    map.insert(k, v);
                } else {
                    arr.push(self.value()?);
                }
                if self.eat(b',') {
                    if self.eat(close) {
                        break; // trailing comma, as in a 1-tuple
                    }
                    continue;
                }
                if self.eat(close) {
                    break;
                }
                return None;
            }
        }
        self.depth -= 1;
        Some(if is_dict { Value::Object(map) } else { Value::Array(arr) })
    }

    fn string(&mut self) -> Option<String> {
        let q = self.s[self.i];
        self.i += 1;
        let mut out = String::new();
        let mut run = self.i;
        while self.i < self.s.len() {
            let c = self.s[self.i];
            if c == q {
                out.push_str(self.src.get(run..self.i)?);
                self.i += 1;
                return Some(out);
            }
            if c != b'\\' {
                self.i += 1;
                continue;
            }
            out.push_str(self.src.get(run..self.i)?);
            let e = *self.s.get(self.i + 1)?;
            self.i += 2;
            match e {
                b'n' => out.push('\n'),
                b't' => out.push('\t'),
                b'r' => out.push('\r'),
                b'0' => out.push('\0'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'x' => out.push(char::from_u32(self.hex(2)?)?),
                b'u' => out.push(self.utf16()?),
                b'U' => out.push(char::from_u32(self.hex(8)?)?),
                b'\\' | b'\'' | b'"' | b'/' => out.push(e as char),
                _ => {
                    // Unknown escape: Python keeps the backslash.
                    out.push('\\');
                    self.i -= 1;
                }
            }
            run = self.i;
        }
        None // unterminated (truncated line)
    }

    fn hex(&mut self, n: usize) -> Option<u32> {
        let t = self.s.get(self.i..self.i + n)?;
        self.i += n;
        t.iter().try_fold(0u32, |acc, &c| Some(acc * 16 + (c as char).to_digit(16)?))
    }

    /// `\uXXXX`, joining a JSON surrogate pair; a lone surrogate becomes U+FFFD.
    fn utf16(&mut self) -> Option<char> {
        let hi = self.hex(4)?;
        if !(0xD800..0xDC00).contains(&hi) {
            return Some(char::from_u32(hi).unwrap_or('\u{FFFD}'));
        }
        if self.s.get(self.i..self.i + 2) == Some(b"\\u") {
            let save = self.i;
            self.i += 2;
            let lo = self.hex(4)?;
            if (0xDC00..0xE000).contains(&lo) {
                return char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
            }
            self.i = save;
        }
        Some('\u{FFFD}')
    }
}

fn pow10(k: i32) -> f64 {
    let mut p = 1.0;
    for _ in 0..k {
        p *= 10.0;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<Value> {
        parse_prefix(s).map(|(v, _)| v)
    }

    #[test]
    fn synapse_new_key_repr() {
        let s = "{'key': 'KEYTWO', 'signatures': {'@a:hs': {'ed25519:DEV': 'c2ln'}}, 'fallback': True, 'x': None, 'n': 3, 'f': 1.5}";
        assert_eq!(
            p(s),
            Some(json!({"key":"KEYTWO","signatures":{"@a:hs":{"ed25519:DEV":"c2ln"}},"fallback":true,"x":null,"n":3,"f":1.5}))
        );
    }

    #[test]
    fn consumed_length_stops_after_value() {
        let (v, n) = parse_prefix("'abc' (https://hs/keys/upload)").unwrap();
        assert_eq!(v, json!("abc"));
        assert_eq!(n, 5);
    }

    #[test]
    fn quotes_escapes_and_unicode() {
        assert_eq!(p(r#""it's""#), Some(json!("it's")));
        assert_eq!(p(r"'a\'b\\c\n\x41\u00e9\U0001f642'"), Some(json!("a'b\\c\nAé🙂")));
        assert_eq!(p("'é🙂'"), Some(json!("é🙂")));
        assert_eq!(p("[1, (2,), []]"), Some(json!([1, [2], []])));
    }

    #[test]
    fn truncated_or_garbage_is_none() {
        for s in ["{'key': 'abc", "{'key' 'abc'}", "{", "'", "", "{'a': }", "Tru", "{'a': 1 'b': 2}"] {
            assert_eq!(p(s), None, "{s:?}");
        }
    }

    #[test]
    fn json_texts_read_like_serde_json() {
        let cases = [
            r#"{"a":[1,-2,3.5,-0.25,1e3,2E-2,12345678901234567890,-9223372036854775808],"b":true,"c":false,"d":null}"#,
            r#"{"s":"q\"b\\s\/n\n\t\r\b\fé\u00e9\ud83d\ude42"}"#,
            " [ ] ",
            r#"{"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":{"key":"k","signatures":{"@a:hs":{"ed25519:D":"s"}}}}}"#,
            "0.1",
            "123456.789e-2",
        ];
        for c in cases {
            let ours = parse_json(c).unwrap_or_else(|| panic!("{c}"));
            let theirs = Value::from_serde(&serde_json::from_str(c).unwrap());
            assert_eq!(ours, theirs, "{c}");
        }
    }

    #[test]
    fn far_exponents_are_close_not_exact() {
        for (t, want) in [("1.7976931348623157e308", f64::MAX), ("2.2250738585072014e-308", f64::MIN_POSITIVE), ("1e400", f64::INFINITY)] {
            let got = parse_json(t).and_then(|v| v.as_f64());
            assert_eq!(parse_json(t).map(|v| v.is_null()), Some(want.is_infinite()));
            if want.is_infinite() {
                assert_eq!(got, None, "{t}: JSON has no infinity"); // Number::from_f64 refuses it: null
            } else {
                let g = got.unwrap();
                assert!(((g - want) / want).abs() < 1e-14, "{t}: {g}");
            }
        }
    }

    #[test]
    fn json_edge_cases() {
        assert_eq!(parse_json(r#""\ud83d x""#), Some(json!("\u{FFFD} x")), "lone surrogate");
        for bad in ["", "{} x", "-", "1.", "1e", "{\"a\":", "[1,2", "nul", "\"\\u12\""] {
            assert_eq!(parse_json(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let s = "[".repeat(100_000);
        assert_eq!(p(&s), None);
    }
}
