//! Python `repr()` of JSON-like values, as Synapse writes the *new* key of a
//! one-time-key conflict (`synapse/handlers/e2e_keys.py` formats it with `%r`):
//! single quotes, `True`/`False`/`None`, tuples. No well-kept crate reads
//! Python literals into JSON values, so this one is hand-written; JSON itself
//! always goes through serde_json ([`json_prefix`]).
//!
//! Lenient where that only helps reading facts (JSON keywords and double
//! quotes are accepted too, trailing commas), strict where input could buy
//! work: nesting is bounded, numbers are read by std's linear parsers, and
//! objects are built in a B-tree, so a hostile line costs time linear in its
//! length.

use serde_json::{Map, Number, Value};

/// One JSON value at the start of `s` (serde_json) and the bytes it used.
pub fn json_prefix(s: &str) -> Option<(Value, usize)> {
    let start = s.len() - s.trim_start().len();
    let mut values = serde_json::Deserializer::from_str(&s[start..]).into_iter::<Value>();
    let v = values.next()?.ok()?;
    Some((v, start + values.byte_offset()))
}

/// One value at the start of `s`, as JSON or else as a Python repr, and the
/// bytes it used.
pub fn parse_prefix(s: &str) -> Option<(Value, usize)> {
    json_prefix(s).or_else(|| repr_prefix(s))
}

/// One Python repr value at the start of `s` and the bytes it used.
pub fn repr_prefix(s: &str) -> Option<(Value, usize)> {
    let mut p = Parser { s: s.as_bytes(), src: s, i: 0, depth: 0 };
    let v = p.value()?;
    Some((v, p.i))
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

    /// JSON's number grammar (leading zeros allowed, as Python never writes
    /// them anyway): an exponent of any size costs one pass.
    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let at = p.i;
            while p.s.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            p.i > at
        };
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        if !digits(self) {
            return None;
        }
        let mut int = true;
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            int = false;
            if !digits(self) {
                return None;
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            int = false;
            if matches!(self.s.get(self.i), Some(b'-' | b'+')) {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        let text = self.src.get(start..self.i)?;
        if int {
            if let Ok(n) = text.parse::<u64>() {
                return Some(n.into());
            }
            if let Ok(n) = text.parse::<i64>() {
                return Some(n.into());
            }
        }
        // serde_json's float parser reads it (the wasm then carries one float
        // parser, not two), so the sign and leading zeros, which JSON does
        // not allow, are taken off first. JSON has no infinity: a float out
        // of range is null, as serde_json writes it.
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let zeros = unsigned.len() - unsigned.trim_start_matches('0').len();
        let unsigned =
            if unsigned[zeros..].starts_with(|c: char| c.is_ascii_digit()) { &unsigned[zeros..] } else { &unsigned[zeros - 1..] };
        let f = serde_json::from_str::<Value>(unsigned).ok().and_then(|v| v.as_f64());
        Some(f.map(|f| if negative { -f } else { f }).and_then(Number::from_f64).map_or(Value::Null, Value::Number))
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
                        other => serde_json::to_string(&other).unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    fn r(s: &str) -> Option<Value> {
        repr_prefix(s).map(|(v, _)| v)
    }

    #[test]
    fn json_prefix_is_serde_json_and_says_where_it_stopped() {
        let text = r#" {"key":"KEYONE","signatures":{"@a:hs":{"ed25519:D":"s"}}}; new key: {'key': 'B'}"#;
        let (v, used) = json_prefix(text).unwrap();
        assert_eq!(v, json!({"key":"KEYONE","signatures":{"@a:hs":{"ed25519:D":"s"}}}));
        assert_eq!(&text[used..used + 10], "; new key:");
        assert_eq!(json_prefix("{'key': 'B'}"), None, "a repr is not JSON");
        assert_eq!(parse_prefix("{'key': 'B'}").map(|(v, _)| v), Some(json!({"key": "B"})));
    }

    #[test]
    fn repr_numbers_read_like_json_numbers() {
        for c in ["1", "-2", "3.5", "-0.25", "1e3", "2E-2", "12345678901234567890", "-9223372036854775808", "0.1", "123456.789e-2"] {
            let want: Value = serde_json::from_str(c).unwrap();
            assert_eq!(r(c), Some(want), "{c}");
        }
        for bad in ["-", "1.", "1e", "1e+", ".5"] {
            assert_eq!(r(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats_read_as_std_reads_them() {
        // Leading zeros and signs, which serde_json alone would reject.
        for c in ["007.5", "-00.5", "0.0", "-0.0", "00", "-0e5", "0001e-3", "-000123.25E+2"] {
            assert_eq!(r(c).and_then(|v| v.as_f64()), c.parse::<f64>().ok(), "{c}");
        }
        assert!(r("-0.0").unwrap().as_f64().unwrap().is_sign_negative());
        // Shortest round-trip texts of spread-out doubles, both notations.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_finite() {
                for t in [format!("{f:e}"), format!("{}", (x % 10_000_000) as f64 / 1000.0)] {
                    assert_eq!(r(&t).and_then(|v| v.as_f64()), t.parse::<f64>().ok(), "{t}");
                }
            }
        }
    }

    #[test]
    fn far_exponents_are_null_or_zero_and_cheap() {
        assert_eq!(r("1e400"), Some(Value::Null), "JSON has no infinity");
        assert_eq!(r("1.7976931348623157e308").and_then(|v| v.as_f64()), Some(f64::MAX));
        // An exponent that once cost a second of repeated multiplication.
        let hostile = format!("{{'key': [{}]}}", vec!["1e99999999999"; 1000].join(", "));
        let v = r(&hostile).unwrap();
        assert!(v["key"].as_array().unwrap().iter().all(Value::is_null));
        assert_eq!(r("1e-99999999999").and_then(|v| v.as_f64()), Some(0.0));
    }

    #[test]
    fn wide_objects_parse_in_one_pass() {
        let wide = format!("{{{}}}", (0..200_000).map(|i| format!("'k{i}': {i}")).collect::<Vec<_>>().join(", "));
        let v = r(&wide).unwrap();
        assert_eq!(v.as_object().map(Map::len), Some(200_000));
        assert_eq!(v["k199999"], 199_999);
    }

    #[test]
    fn lone_surrogates_and_garbage() {
        assert_eq!(r(r#""\ud83d x""#), Some(json!("\u{FFFD} x")), "lone surrogate");
        for bad in ["", "{\"a\":", "[1,2", "nul", "\"\\u12\""] {
            assert_eq!(r(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let s = "[".repeat(100_000);
        assert_eq!(p(&s), None);
    }
}
