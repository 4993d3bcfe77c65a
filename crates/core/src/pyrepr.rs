//! A small parser for Python `repr()` of JSON-like values.
//!
//! Synapse formats the *new* key of a one-time-key conflict with `%r`
//! (REFERENCE §1): single quotes, `True`/`False`/`None`. We need it as JSON to
//! compare it with the stored old key the way Synapse does.

use serde_json::{Map, Number, Value};

/// Parse one value at the start of `s`; returns it and the bytes consumed.
pub fn parse_prefix(s: &str) -> Option<(Value, usize)> {
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
            _ => self.number(),
        }
    }

    fn word(&mut self, w: &str, v: Value) -> Option<Value> {
        if self.src[self.i..].starts_with(w) {
            self.i += w.len();
            Some(v)
        } else {
            None
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while self.i < self.s.len() && matches!(self.s[self.i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
            self.i += 1;
        }
        let t = &self.src[start..self.i];
        // serde_json's own number parser: already in the bundle, unlike core's float parsing.
        t.parse::<Number>().ok().map(Value::Number)
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
                        other => other.to_string(),
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
                out.push_str(&self.src[run..self.i]);
                self.i += 1;
                return Some(out);
            }
            if c != b'\\' {
                self.i += 1;
                continue;
            }
            out.push_str(&self.src[run..self.i]);
            let e = *self.s.get(self.i + 1)?;
            self.i += 2;
            match e {
                b'n' => out.push('\n'),
                b't' => out.push('\t'),
                b'r' => out.push('\r'),
                b'0' => out.push('\0'),
                b'x' => out.push(self.hex(2)?),
                b'u' => out.push(self.hex(4)?),
                b'U' => out.push(self.hex(8)?),
                b'\\' | b'\'' | b'"' => out.push(e as char),
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

    fn hex(&mut self, n: usize) -> Option<char> {
        let t = self.src.get(self.i..self.i + n)?;
        self.i += n;
        char::from_u32(u32::from_str_radix(t, 16).ok()?)
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

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let s = "[".repeat(100_000);
        assert_eq!(p(&s), None);
    }
}
