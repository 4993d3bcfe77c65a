//! The text scanner: one forward pass over the bytes.
//!
//! At a word start it asks, in order: is this a name followed by a
//! separator (then a secret name's value is masked whole), a run that is a
//! token or key material as a whole (JWT, Synapse/MAS token, random base64,
//! hex), or a segment of a longer run that is. Sigils start Matrix ids, which
//! are kept whole; `[` and `{` may start byte arrays; `-----BEGIN` a PEM block.
//!
//! Every lookahead is capped ([`MAX_VALUE`], [`MAX_WORDS_BYTES`], [`MAX_PEM`])
//! or stops where the next one of its kind would start, and the scan resumes
//! after what it looked at, so the work is linear in the input. A mask starts
//! and ends on an ASCII byte or a char boundary, and never cuts an escape, so
//! a JSON line stays a JSON line.

use super::names::{secret_name, MAX_NAME};
use super::shapes::{is_base58, is_jwt, is_key_material, is_uuid, token_prefix};
use super::{mask_len, RedactionCounts, SecretKind};
use std::borrow::Cow;

/// Longest quoted value followed; an unclosed one is masked up to here.
pub(crate) const MAX_VALUE: usize = 4096;
/// Longest unquoted multi-word value (`password=correct horse battery staple`).
const MAX_WORDS_BYTES: usize = 256;
const MAX_WORDS: usize = 8;
/// Longest PEM block looked for.
const MAX_PEM: usize = 64 * 1024;
/// Deepest `\"`-escaping followed (JSON inside JSON inside ...).
const MAX_ESCAPE_LEVELS: u32 = 8;
/// Byte arrays with at least this many elements are masked.
const MIN_BYTES: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// `:` (also `%3A`).
    Colon,
    /// `=`, `=>` (also `%3D`).
    Assign,
    /// `,` after a quoted name: a tuple or a HAR `name`/`value` pair.
    Comma,
    /// `Password("x")`: a Rust tuple struct.
    Paren,
    /// `password is x`.
    Prose,
}

#[derive(Clone, Copy)]
enum Close {
    /// A quote byte after `levels` of backslash escaping.
    Raw { qc: u8, levels: u32 },
    /// `%22`, `&quot;` and the like: the same text closes it.
    Text(&'static [u8]),
}

#[derive(Clone, Copy)]
struct Quote {
    /// First byte of the value.
    start: usize,
    close: Close,
}

/// Whether a position sits inside a `"…"` string at the outer JSON level,
/// tracked forward over the input. Raw line breaks reset it.
#[derive(Clone, Copy, Default)]
struct JsonState {
    pos: usize,
    in_str: bool,
    esc: bool,
}

/// How far back a HAR pair's `"value"` looks for its `"name"`.
const PAIR_LOOKBACK: usize = 160;

pub(crate) struct Scan<'a, 'c> {
    s: &'a str,
    b: &'a [u8],
    counts: &'c mut RedactionCounts,
    public: &'c [&'c str],
    out: Option<String>,
    copied: usize,
    steps: u64,
    js: JsonState,
    /// Inside a run already judged clean as a whole (its segments are still judged).
    clean_until: usize,
    /// Inside an endpoint path or `mxc://` URI: kept.
    path_until: usize,
    /// Inside a name run already found without a separator.
    name_until: usize,
    /// A word starting here is kept (the key after `ed25519:`, a device id).
    keep_at: usize,
    /// Values followed into the next value (`"a": "b": "c"…`): bounded, so
    /// hostile chains cannot exhaust the stack.
    depth: u32,
    /// The last unquoted value's scan `(start, reached, in_str, delimited)`: a value starting
    /// inside it has no delimiter before `reached` either, so its scan goes on from there
    /// (values nested in values are not scanned twice).
    bare: (usize, usize, bool, bool),
}

impl<'a, 'c> Scan<'a, 'c> {
    pub(crate) fn new(s: &'a str, counts: &'c mut RedactionCounts, public: &'c [&'c str]) -> Self {
        Scan {
            s,
            b: s.as_bytes(),
            counts,
            public,
            out: None,
            copied: 0,
            steps: 0,
            js: JsonState::default(),
            clean_until: 0,
            path_until: 0,
            name_until: 0,
            keep_at: usize::MAX,
            depth: 0,
            bare: (0, 0, false, false),
        }
    }

    pub(crate) fn run(mut self) -> (Cow<'a, str>, u64) {
        let b = self.b;
        let mut i = 0;
        while i < b.len() {
            self.steps += 1;
            let c = b[i];
            let next = if c.is_ascii_alphanumeric() || c == b'_' {
                self.word(i)
            } else {
                match c {
                    b'@' | b'!' | b'$' | b'#' => self.sigil(i),
                    b'[' => self.bracket(i),
                    b'{' => self.brace(i),
                    b'-' => self.pem(i),
                    b'\\' => self.backslash(i),
                    b'%' => pct(b, i).map_or(i + 1, |(_, n)| i + n),
                    b'&' => html_quote(b, i).map_or(i + 1, |n| i + n),
                    _ => i + 1,
                }
            };
            i = next.max(i + 1);
        }
        let steps = self.steps;
        let out = match self.out {
            Some(mut o) => {
                o.push_str(slice(self.s, self.copied, self.s.len()));
                Cow::Owned(o)
            }
            None => Cow::Borrowed(self.s),
        };
        (out, steps)
    }

    // ------------------------------------------------------------ helpers

    // A function pointer, not a generic: one copy of the loop in the wasm, not one per caller.
    fn run_while(&mut self, mut k: usize, f: fn(u8) -> bool) -> usize {
        let start = k;
        while k < self.b.len() && f(self.b[k]) {
            k += 1;
        }
        self.steps += (k - start) as u64;
        k
    }

    /// In a JSON string at `k`? Moves the tracked state forward (positions
    /// asked for only grow; an earlier one gets the current answer).
    fn in_str(&mut self, k: usize) -> bool {
        let b = self.b;
        let to = k.min(b.len());
        let js = &mut self.js;
        while js.pos < to {
            let c = b[js.pos];
            if c == b'\n' || c == b'\r' {
                js.in_str = false;
                js.esc = false;
            } else if js.esc {
                js.esc = false;
            } else if c == b'\\' {
                js.esc = true;
            } else if c == b'"' {
                js.in_str = !js.in_str;
            }
            js.pos += 1;
            self.steps += 1;
        }
        js.in_str
    }

    fn is_public(&self, v: &[u8]) -> bool {
        self.public.iter().any(|p| p.len() == v.len() && p.as_bytes() == v)
    }

    /// A value the parser marked public at `i..end`, or one that starts a byte or two earlier
    /// with `+` or `/`: base64 symbols a word never starts with, so a signature beginning with
    /// one reaches the scan without it (found by e2e: a KE-1 proof's new-key signature `+…`).
    fn is_public_at(&self, i: usize, end: usize) -> bool {
        let mut s = i;
        for _ in 0..3 {
            if self.is_public(&self.b[s..end]) {
                return true;
            }
            if s == 0 || !matches!(self.b[s - 1], b'+' | b'/') {
                return false;
            }
            s -= 1;
        }
        false
    }

    /// Replace `start..end` by a mask of `kind`; `wrap`: in JSON quotes.
    fn mask(&mut self, start: usize, end: usize, kind: SecretKind, wrap: bool) {
        let start = start.max(self.copied);
        let mut end = end.min(self.b.len());
        while !self.s.is_char_boundary(end) {
            end -= 1;
        }
        if end <= start {
            return;
        }
        let s = self.s;
        let out = self.out.get_or_insert_with(|| String::with_capacity(s.len()));
        out.push_str(slice(s, self.copied, start));
        if wrap {
            out.push('"');
        }
        self.counts.mask(kind, &self.b[start..end], out);
        if wrap {
            out.push('"');
        }
        self.copied = end;
    }

    // ------------------------------------------------------------ words

    fn word(&mut self, i: usize) -> usize {
        let b = self.b;
        if i == self.keep_at {
            let end = self.run_while(i, |c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'_' | b'-' | b'='));
            // `device_id: access_token: x`: what follows is a secret name, not the device id.
            let name = self.run_while(i, |c| c.is_ascii_alphanumeric() || c == b'_');
            let sep = skip_space(b, close_quote(b, name).0);
            if !(matches!(b.get(sep), Some(b':' | b'=')) && secret_name(&b[i..name]).is_some()) {
                return end;
            }
        }
        if i < self.path_until {
            return self.run_while(i, |c| c.is_ascii_alphanumeric() || c == b'_');
        }
        if i >= self.name_until {
            let nend = self.name_end(i);
            if let Some(next) = self.named(i, nend) {
                return next;
            }
            self.name_until = nend;
        }
        // URLs: `scheme://user:password@host`, `mxc://server/media`.
        let wend = self.run_while(i, |c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
        if b[wend..].starts_with(b"://") {
            return self.url(i, wend);
        }
        if i >= self.clean_until {
            let rend = self.token_end(i);
            let run = &b[i..rend];
            // A value the parser marked public stays whole (a signature's `/` must not split it).
            if self.is_public_at(i, rend) {
                self.clean_until = rend;
                return rend;
            }
            let kind = self.token_kind(run);
            // A localpart (`syt_bot:server`) is part of an id, not a token.
            let id_part = i > 0 && b[i - 1] == b'@' && b.get(rend) == Some(&b':') && b.get(rend + 1).is_some_and(u8::is_ascii_alphanumeric);
            if let Some(kind) = kind.filter(|_| !id_part) {
                self.mask(i, rend, kind, false);
                return rend;
            }
            if i > 0 && b[i - 1] == b'/' && (run.starts_with(b"_matrix/") || run.starts_with(b"_synapse/")) {
                self.path_until = rend;
                self.clean_until = rend;
                return rend;
            }
            self.clean_until = rend;
        }
        let send = self.run_while(i, |c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'+' | b'~'));
        let seg = &b[i..send];
        if seg.len() == 4 && seg.starts_with(b"Es") {
            if let Some(end) = self.recovery_groups(i) {
                self.mask(i, end, SecretKind::RecoveryKey, false);
                return end;
            }
        }
        if seg.eq_ignore_ascii_case(b"bearer") {
            return self.bearer(send);
        }
        if is_key_material(seg) && !self.is_public_at(i, send) && !is_uuid(seg) {
            self.mask(i, send, SecretKind::KeyMaterial, false);
        }
        send
    }

    /// The secret a `"name": "<secret name>"` member just before `i` names (HAR pairs).
    fn pair_name_before(&mut self, i: usize) -> Option<SecretKind> {
        let b = self.b;
        let from = i.saturating_sub(PAIR_LOOKBACK);
        self.steps += (i - from) as u64;
        let window = &b[from..i];
        let at = window.windows(4).rposition(|w| w.eq_ignore_ascii_case(b"name"))?;
        let mut k = from + at + 4;
        while k < i && matches!(b[k], b'"' | b'\\' | b'\'' | b' ' | b':') {
            k += 1;
        }
        let e = self.run_while(k, |c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'));
        secret_name(&b[k..e.min(i)]).map(|(kind, _)| kind)
    }

    /// What secret `run` is by its shape alone, if any.
    fn token_kind(&self, run: &[u8]) -> Option<SecretKind> {
        if is_jwt(run) {
            Some(SecretKind::IdToken)
        } else if let Some(k) = token_prefix(run) {
            Some(k)
        } else if run.starts_with(b"MDAx") && run.len() >= 40 {
            Some(SecretKind::Macaroon)
        } else if !is_uuid(run) && !is_path(run) && is_key_material(run) && !self.is_public(run) {
            Some(SecretKind::KeyMaterial)
        } else {
            None
        }
    }

    /// End of a name: letters, digits, `_`, `-`, `.`, `%XX`, at most `2 * MAX_NAME` bytes.
    fn name_end(&mut self, i: usize) -> usize {
        let b = self.b;
        let mut k = i;
        while k < b.len() && k - i < 2 * MAX_NAME {
            let c = b[k];
            if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.') {
                k += 1;
            } else if let Some((d, n)) = pct(b, k).filter(|&(d, _)| matches!(d, b'_' | b'-')) {
                let _ = d;
                k += n;
            } else {
                break;
            }
        }
        self.steps += (k - i) as u64;
        // A sentence's full stop or a dash is not part of the name.
        while k > i && matches!(b[k - 1], b'.' | b'-') {
            k -= 1;
        }
        k
    }

    /// A name at `i..nend` followed by a separator: a secret name's value is
    /// masked; another name's value is left to be judged on its own.
    fn named(&mut self, i: usize, nend: usize) -> Option<usize> {
        let b = self.b;
        let quoted_before =
            i > 0 && (matches!(b[i - 1], b'"' | b'\'' | b';') || (i >= 3 && pct(b, i - 3).is_some_and(|(d, _)| d == b'"' || d == b'\'')));
        let (mut k, mut closed) = close_quote(b, nend);
        // A name closes with its opening quote, at its escaping level: in `"Some(\\"password"` or
        // `"['password"` the raw `"` closes the JSON string, not the name.
        if closed && i > 0 && matches!(b[i - 1], b'"' | b'\'') {
            let level = |r: &mut dyn Iterator<Item = &u8>| r.take(2 * MAX_ESCAPE_LEVELS as usize).take_while(|&&c| c == b'\\').count();
            let open = level(&mut b[..i - 1].iter().rev());
            let close = level(&mut b[nend..].iter());
            if matches!(b.get(nend + close), Some(b'"' | b'\'')) && (open != close || b[nend + close] != b[i - 1]) {
                (k, closed) = (nend, false);
            }
        }
        let k = skip_space(b, k);
        let (sep, after) = separator(b, nend, k, closed && quoted_before)?;
        // A Rust path segment (`matrix_sdk_crypto::sessions: …`) is a log target, not a name.
        if i >= 2 && &b[i - 2..i] == b"::" {
            return None;
        }
        let name = &b[i..nend];
        // A token before `=` or `:` is still a token (`syl_… =x`): never passed over as a name.
        if self.token_kind(name).is_some() {
            return None;
        }
        // HAR `{"name":"access_token","value":"…"}`: the value's name is the pair's `name`, read
        // back in the input (a bounded look), whatever an earlier mask covered.
        if sep == Sep::Colon && name.eq_ignore_ascii_case(b"value") {
            if let Some(kind) = self.pair_name_before(i) {
                return Some(self.value(after, kind, false, Sep::Colon, name, false));
            }
        }
        match secret_name(name) {
            // Prose (`password is x`) only after a password word.
            Some((kind, _)) if sep == Sep::Prose && kind != SecretKind::Password => None,
            // Matrix error codes (`M_UNKNOWN_TOKEN`) name an error, not a secret.
            Some(_) if name.starts_with(b"M_") => None,
            Some((kind, weak)) => {
                // A tuple opens before the name's quote: `('password', 'x')`, `["token", "x"]`.
                let open = b[..i.saturating_sub(1)].iter().rev().take(8).find(|&&c| c != b' ' && c != b'\\');
                let tuple = matches!(open, Some(b'(' | b'['));
                Some(self.value(after, kind, weak, sep, name, tuple))
            }
            None if matches!(sep, Sep::Colon | Sep::Assign) => {
                let norm_tail = |t: &[u8]| name.len() >= t.len() && name[name.len() - t.len()..].eq_ignore_ascii_case(t);
                // `ed25519:KEY`, `curve25519:KEY`: an algorithm names a public key or key id.
                if after == nend + 1 && norm_tail(b"25519") {
                    self.keep_at = after;
                }
                // `device_id=ABCDEFGHIJ`, `"deviceId": "ABCDEFGHIJ"`: the context says it is a device id.
                if norm_tail(b"deviceid") || norm_tail(b"device_id") || name.eq_ignore_ascii_case(b"device") {
                    let v = skip_space(b, after);
                    self.keep_at = self.open_quote(v).map_or(v, |q| q.start);
                }
                Some(after)
            }
            None => None,
        }
    }

    /// A secret name's value at `k` (after its separator): masked whole.
    fn value(&mut self, k: usize, kind: SecretKind, weak: bool, sep: Sep, name: &[u8], tuple: bool) -> usize {
        if self.depth >= 8 {
            // A chain of values that are keys: the rest of the line goes (fails closed).
            let end = self.line_end(k);
            self.mask(k, end, kind, false);
            return end;
        }
        self.depth += 1;
        let next = self.value_at(k, kind, weak, sep, name, tuple);
        self.depth -= 1;
        next
    }

    fn value_at(&mut self, k: usize, kind: SecretKind, weak: bool, sep: Sep, name: &[u8], tuple: bool) -> usize {
        let b = self.b;
        let mut k = skip_space(b, k);
        if b[k..].starts_with(b"Some(") {
            k += 5;
        }
        if let Some(n) = mask_len(b, k) {
            return k + n;
        }
        if let Some(q) = self.open_quote(k) {
            // A plain `"` inside a JSON string closes that string: `{"m":"password:", "n":1}`.
            // A plain `"` inside a JSON string that JSON structure follows closes
            // that string: `{"m":"password:", "n":1}` has no value to take.
            if matches!(q.close, Close::Raw { qc: b'"', levels: 0 }) && sep != Sep::Comma && self.in_str(k) {
                let next = skip_space(b, q.start);
                if matches!(b.get(next), None | Some(b',' | b':' | b'}' | b']')) {
                    return k + 1;
                }
            }
            // `key: "refresh_token": "x"` (quoted at any escaping level): the "value" is the next
            // secret name; the scan takes it from there.
            let nend = self.name_end(q.start);
            if nend > q.start && secret_name(&b[q.start..nend]).is_some() {
                let (after, closed) = close_quote(b, nend);
                if closed && separator(b, nend, skip_space(b, after), true).is_some_and(|(s, _)| matches!(s, Sep::Colon | Sep::Assign)) {
                    return k;
                }
            }
            if sep == Sep::Comma {
                // HAR: `{"name":"access_token","value":"…"}`; else a tuple `('password', 'x')`.
                let w = self.run_while(q.start, |c| c.is_ascii_alphabetic());
                if b[q.start..w].eq_ignore_ascii_case(b"value") {
                    let (after, closed) = close_quote(b, w);
                    if closed {
                        if let Some((_, v)) = separator(b, w, skip_space(b, after), false) {
                            return self.value(v, kind, false, Sep::Colon, name, false);
                        }
                    }
                }
            }
            if sep == Sep::Comma && !tuple {
                return k;
            }
            return self.quoted(q, kind, weak);
        }
        match b.get(k) {
            None => return k,
            Some(b'[') => {
                let j = skip_space(b, k + 1);
                if let Some(q) = self.open_quote(j) {
                    // A raw `"` inside a JSON string closes that string: no array of strings here.
                    if matches!(q.close, Close::Raw { qc: b'"', levels: 0 }) && self.in_str(j) {
                        return k + 1;
                    }
                    return self.quoted(q, kind, false);
                }
                return self.bracket(k).max(k + 1);
            }
            Some(b'{' | b'(' | b'<' | b',' | b';' | b'}' | b']' | b')') => return k,
            _ => {}
        }
        // `key: access_token=x`, `key: Secret("x")`: the "value" is the next secret name; the scan
        // takes it from there.
        let nend = self.name_end(k);
        if nend > k && !contains_ci(name, b"cookie") && secret_name(&b[k..nend]).is_some() && self.names_a_value(k, nend) {
            return k;
        }
        // Left to the PEM matcher, which masks the whole block.
        if matches!(sep, Sep::Comma | Sep::Paren) || b[k..].starts_with(b"-----BEGIN ") {
            return k;
        }
        let wend = self.run_while(k, |c| c.is_ascii_alphanumeric() || c == b'_');
        const LITERALS: [&[u8]; 8] = [b"null", b"true", b"false", b"None", b"True", b"False", b"undefined", b"nil"];
        if wend > k && LITERALS.contains(&&b[k..wend]) {
            return wend;
        }
        if let Some(end) = number_end(b, k) {
            if weak && end - k <= 6 {
                return end;
            }
            let wrap = !self.in_str(k);
            self.mask(k, end, kind, wrap);
            return end;
        }
        // `Authorization: Bearer x`: the scheme stays readable, and what follows it is the value,
        // taken as any value is (quoted, bracketed, a recovery key in groups, a secret name with
        // a value of its own): found under random seeds, `password=Bearer  [Es11  1111 …]`.
        let mut start = k;
        if is_scheme(&b[k..wend]) {
            let after = if b.get(wend) == Some(&b'+') { wend + 1 } else { skip_space(b, wend) };
            if after > wend {
                let nend = self.name_end(after);
                let named = nend > after && secret_name(&b[after..nend]).is_some() && self.names_a_value(after, nend);
                if named || !b.get(after).is_some_and(u8::is_ascii_alphanumeric) {
                    return self.value(after, kind, weak, sep, name, tuple);
                }
                start = after;
            }
        }
        if let Some(end) = self.recovery_groups(start) {
            self.mask(start, end, SecretKind::RecoveryKey, false);
            return end;
        }
        if let Some(n) = mask_len(b, start) {
            return start + n;
        }
        // A cookie header, and YAML / INI (`password: x`, `password = x`): the rest of the line.
        let spaced = matches!(sep, Sep::Colon | Sep::Assign) && k > 0 && matches!(b[k - 1], b' ' | b'\t');
        let cookie = contains_ci(name, b"cookie") || (spaced && !weak);
        let mut end = if cookie { self.line_end(start) } else { self.bare_end(start, false) };
        if end == start {
            return end;
        }
        if weak && is_plain(&b[start..end]) {
            return end;
        }
        if matches!(kind, SecretKind::Token | SecretKind::LoginToken) && is_stream_token(&b[start..end]) {
            return end;
        }
        // A passphrase of words goes on (`password=correct horse battery staple`);
        // a token ends at the space.
        if sep != Sep::Prose && !cookie && b[start..end].iter().all(u8::is_ascii_alphabetic) {
            end = self.more_words(end);
        }
        // `key: login(refresh_token='x')`: a secret name inside a delimited value keeps its own
        // value; the mask stops before it and the scan takes the name from there (a value to the
        // line's end masks its names' values with it).
        if let Some(p) = if cookie { None } else { self.nested_name(start, end) } {
            if p > start {
                self.mask(start, p, kind, false);
            }
            return p;
        }
        self.mask(start, end, kind, false);
        end
    }

    /// Where a secret name with a value of its own starts inside `start..end`
    /// (after the first byte), if one does: followed by `=`, `:` or `=>`, by
    /// `(` (`Secret("x")`), or by its closing quote and a comma (`('token', 'x')`).
    fn nested_name(&mut self, start: usize, end: usize) -> Option<usize> {
        let b = self.b;
        let mut i = start + 1;
        while i < end {
            if b[i].is_ascii_alphabetic() && !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
                let e = (i..end).find(|&k| !(b[k].is_ascii_alphanumeric() || b[k] == b'_')).unwrap_or(end);
                self.steps += (e - i) as u64;
                if secret_name(&b[i..e]).is_some() && self.names_a_value(i, e) {
                    return Some(i);
                }
                i = e.max(i + 1);
            } else {
                i += 1;
            }
        }
        None
    }

    /// Whether what follows the name `i..e` gives it a value (see [`Self::nested_name`]).
    fn names_a_value(&mut self, i: usize, e: usize) -> bool {
        let b = self.b;
        match b.get(e) {
            Some(b'(') => true,
            // A tuple's element is quoted on both sides: `'token', 'x'`.
            Some(&q @ (b'"' | b'\'')) => i > 0 && b[i - 1] == q && b.get(e + 1) == Some(&b','),
            _ => {
                let k = (e..(e + 4).min(b.len())).find(|&k| b[k] != b' ').unwrap_or(e);
                separator(b, e, k, false).is_some_and(|(s, _)| matches!(s, Sep::Colon | Sep::Assign))
            }
        }
    }

    /// End of an unquoted value: up to a delimiter.
    fn bare_end(&mut self, start: usize, to_line_end: bool) -> usize {
        let b = self.b;
        let cap = (start + MAX_VALUE).min(b.len());
        let in_str = self.in_str(start);
        let mut k = start;
        let cached = !to_line_end && self.bare.0 < start && start < self.bare.1 && self.bare.2 == in_str;
        if cached {
            k = self.bare.1;
        }
        while k < cap && !(cached && self.bare.3) {
            let c = b[k];
            let stop = if to_line_end {
                matches!(c, b'\n' | b'\r' | b'\\') || (c == b'"' && in_str)
            } else {
                c <= b' ' || matches!(c, b'&' | b'"' | b'\'' | b')' | b']' | b'>' | b',' | b'\\' | b';' | b'}' | b'<')
            };
            if stop {
                break;
            }
            if c == b'%' {
                if let Some((d, n)) = pct(b, k) {
                    if d <= b' ' || matches!(d, b'&' | b'"' | b'\'' | b',' | b';') {
                        break;
                    }
                    k += n;
                    continue;
                }
            }
            k += 1;
        }
        self.steps += (k - if cached { self.bare.1 } else { start }) as u64;
        if !to_line_end {
            let delimited = k < cap || k == b.len();
            self.bare = (start, k, in_str, delimited);
        }
        // A sentence's full stop is not part of the value.
        while k > start && b[k - 1] == b'.' {
            k -= 1;
        }
        k
    }

    /// End of a value that runs to the end of the line: a raw or JSON-escaped
    /// line break, the end of the JSON string it sits in, or the cap.
    fn line_end(&mut self, start: usize) -> usize {
        let b = self.b;
        let cap = (start + MAX_VALUE).min(b.len());
        let in_str = self.in_str(start);
        let (mut k, mut end) = (start, start);
        while k < cap {
            match b[k] {
                b'\n' | b'\r' => break,
                b'\\' => {
                    let r = k + b[k..cap].iter().take_while(|&&c| c == b'\\').count();
                    let odd = (r - k) % 2 == 1;
                    if odd && matches!(b.get(r), Some(b'n' | b'r')) || r >= cap {
                        break; // a JSON-escaped line break
                    }
                    k = if odd { r + 1 } else { r };
                    end = k;
                    continue;
                }
                b'"' if in_str => break,
                b' ' | b'\t' => {}
                _ => end = k + 1,
            }
            k += 1;
        }
        self.steps += (k - start) as u64;
        while !self.s.is_char_boundary(end) {
            end += 1;
        }
        end
    }

    /// Further words of an unquoted value (`correct horse battery staple`),
    /// until a word that is the next key, a device id, or structure.
    fn more_words(&mut self, mut end: usize) -> usize {
        let b = self.b;
        let limit = end + MAX_WORDS_BYTES;
        for _ in 0..MAX_WORDS {
            if b.get(end) != Some(&b' ') || !b.get(end + 1).is_some_and(|c| c.is_ascii_alphanumeric()) {
                break;
            }
            let w = end + 1;
            let wend = self.bare_end(w, false);
            let word = &b[w..wend];
            let key_next = matches!(b.get(wend), Some(b'=' | b':')) || word.contains(&b'=') || word.contains(&b':');
            let device = word.len() >= 6 && word.iter().all(u8::is_ascii_uppercase);
            if key_next || device || wend > limit || mask_len(b, w).is_some() {
                break;
            }
            end = wend;
        }
        end
    }

    /// A quoted value: masked up to its closing quote (or the cap, a line
    /// break, the end of the JSON string it sits in).
    fn quoted(&mut self, q: Quote, kind: SecretKind, weak: bool) -> usize {
        let b = self.b;
        // Already masked (a second pass): the scan goes on after the mask.
        if let Some(n) = mask_len(b, q.start) {
            return q.start + n;
        }
        let outer = !matches!(q.close, Close::Raw { qc: b'"', levels: 0 }) && self.in_str(q.start.saturating_sub(1));
        let cap = (q.start + MAX_VALUE).min(b.len());
        let mut j = q.start;
        let mut bs = 0usize;
        let mut close_len = 0;
        // `'key': ' ('cinny_access_token', 'x')'`: a secret name inside keeps its own value (the
        // mask stops before it), found in this same pass.
        let mut word: Option<usize> = None;
        let mut nested = None;
        let end = loop {
            if let Some(w) = word.filter(|_| j >= cap || !(b[j].is_ascii_alphanumeric() || b[j] == b'_')) {
                word = None;
                if w > q.start && secret_name(&b[w..j]).is_some() && self.names_a_value(w, j) {
                    nested = Some(w);
                    break w;
                }
            }
            if j < cap && word.is_none() && b[j].is_ascii_alphabetic() && !(b[j - 1].is_ascii_alphanumeric() || b[j - 1] == b'_') {
                word = Some(j);
            }
            if j >= cap {
                // Unclosed: mask to here, never ending inside an escape.
                let mut e = j;
                if bs % 2 == 1 {
                    e -= 1;
                }
                break e;
            }
            let c = b[j];
            match q.close {
                Close::Raw { qc, levels } if c == qc && c != b'\\' => {
                    let glued = b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric);
                    let doubled = levels == 0 && bs == 0 && b.get(j + 1) == Some(&qc) && qc == b'\'';
                    if doubled {
                        j += 2;
                        continue;
                    }
                    if let Some(delim) = closing_backslashes(bs, levels).filter(|_| !glued) {
                        close_len = delim + 1;
                        break j - delim;
                    }
                }
                Close::Text(t) if b[j..].starts_with(t) => {
                    close_len = t.len();
                    break j;
                }
                _ => {}
            }
            if c == b'\\' {
                bs += 1;
            } else {
                // The end of the JSON string the value sits in (JSON structure follows).
                if c == b'"' && outer && bs % 2 == 0 && matches!(b.get(skip_space(b, j + 1)), None | Some(b',' | b':' | b'}' | b']')) {
                    break j - bs;
                }
                if c == b'\n' || c == b'\r' {
                    break j;
                }
                bs = 0;
            }
            j += 1;
        };
        self.steps += (j - q.start) as u64;
        if let Some(p) = nested {
            self.mask(q.start, p, kind, false);
            return p;
        }
        let v = &b[q.start..end];
        let keep = end <= q.start
            || (weak && is_plain(v))
            || self.is_public(v)
            || mask_len(b, q.start) == Some(end - q.start)
            || (matches!(kind, SecretKind::Token | SecretKind::LoginToken) && is_stream_token(v));
        if !keep {
            self.mask(q.start, end, kind, false);
        }
        let after = end + close_len;
        if close_len == 0 && outer && b.get(end) == Some(&b'"') && !keep {
            // Cut at the end of its JSON string, and a `:` follows: the cut-off
            // text ended in a key, whose value goes too.
            let k = skip_space(b, end + 1);
            if b.get(k) == Some(&b':') {
                return self.value(k + 1, kind, false, Sep::Colon, b"", false);
            }
        }
        if close_len > 0 {
            // `token= "password": "x"`: the "value" was the next key; its value goes too.
            let k = skip_space(b, after);
            if let Some((Sep::Colon | Sep::Assign, v)) = separator(b, after, k, false) {
                if !keep {
                    return self.value(v, kind, false, Sep::Colon, b"", false);
                }
            }
        }
        after
    }

    /// An opening quote at `k`: after backslashes, after a Python bytes `b`,
    /// URL-encoded, or HTML-escaped.
    fn open_quote(&mut self, mut k: usize) -> Option<Quote> {
        let b = self.b;
        if b.get(k) == Some(&b'b') && matches!(b.get(k + 1), Some(b'\'' | b'"')) {
            k += 1;
        }
        if let Some(n) = html_quote(b, k) {
            let t = &b[k..k + n];
            let close: &'static [u8] = HTML_QUOTES.iter().find(|h| h.eq_ignore_ascii_case(t)).copied().unwrap_or(b"&quot;");
            return Some(Quote { start: k + n, close: Close::Text(close) });
        }
        if let Some((q @ (b'"' | b'\''), n)) = pct(b, k) {
            return Some(Quote { start: k + n, close: Close::Text(if q == b'"' { b"%22" } else { b"%27" }) });
        }
        let q = self.run_while(k, |c| c == b'\\');
        let qc = *b.get(q)?;
        if qc != b'"' && qc != b'\'' {
            return None;
        }
        let mut n = q - k;
        let mut levels = 0;
        while n % 2 == 1 {
            n = (n - 1) / 2;
            levels += 1;
            if levels > MAX_ESCAPE_LEVELS {
                return None;
            }
        }
        Some(Quote { start: q + 1, close: Close::Raw { qc, levels } })
    }

    /// `Bearer <token>` outside a header: masked when it looks like a token.
    fn bearer(&mut self, wend: usize) -> usize {
        let b = self.b;
        if !matches!(b.get(wend), Some(b' ' | b'+')) {
            return wend;
        }
        let start = wend + 1;
        let end = self.run_while(start, |c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'));
        let end = self.run_while(end, |c| c == b'=');
        let tok = &b[start..end];
        let letters = tok.iter().all(u8::is_ascii_alphabetic);
        let token_like = if letters { tok.len() >= 24 || (tok.len() >= 6 && !is_plain(tok)) } else { tok.len() >= 3 };
        // `Bearer token` (a word) and `Bearer access_token=x` (a name and its value) are not the
        // credential; `Bearer JWT9` is, whatever secret word it holds.
        let bare = tok.strip_suffix(b"=").unwrap_or(tok);
        let names = secret_name(bare).is_some() && (letters || bare.len() < tok.len() || matches!(b.get(end), Some(b':')));
        if token_like && mask_len(b, start).is_none() && !names {
            self.mask(start, end, SecretKind::Authorization, false);
            return end;
        }
        start
    }

    /// `scheme://…`: credentials in the user info are masked; `mxc://` URIs kept.
    fn url(&mut self, i: usize, wend: usize) -> usize {
        let b = self.b;
        let p = wend + 3;
        if b[i..wend].eq_ignore_ascii_case(b"mxc") {
            let end = self.run_while(p, |c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'/' | b':'));
            self.path_until = end;
            self.clean_until = end;
            return end;
        }
        // User info ends at the first `/`, so the next URL's scan starts after this one's.
        let q = self.run_while(p, |c| !(c <= b' ' || matches!(c, b'/' | b'?' | b'#' | b'@' | b'"' | b'\'' | b'<' | b'>' | b'\\')));
        if b.get(q) == Some(&b'@') {
            if let Some(colon) = b[p..q].iter().position(|&c| c == b':').filter(|c| mask_len(b, p + c + 1).is_none()) {
                self.mask(p + colon + 1, q, SecretKind::Password, false);
                return q;
            }
        }
        p
    }

    /// `EsTc LW2K …`: a recovery key in groups of four (12 groups; 8 or more
    /// on one line is a key cut short, nearly as sensitive).
    fn recovery_groups(&mut self, i: usize) -> Option<usize> {
        let b = self.b;
        if !b[i..].starts_with(b"Es") || self.run_while(i, is_base58) != i + 4 {
            return None;
        }
        let mut p = i + 4;
        let mut groups = 1;
        while groups < 12 {
            let g = self.run_while(p, |c| matches!(c, b' ' | b'\t' | b'-'));
            let g = if g == p {
                // One line break (raw or JSON `\n`) between two groups.
                let r = if b[p..].starts_with(b"\r\n") || b[p..].starts_with(b"\\n") {
                    p + 2
                } else if matches!(b.get(p), Some(b'\n')) {
                    p + 1
                } else {
                    break;
                };
                self.run_while(r, |c| c == b' ')
            } else if g - p > 3 {
                break;
            } else {
                g
            };
            let e = self.run_while(g, is_base58);
            if e - g != 4 || b.get(e).is_some_and(|c| c.is_ascii_alphanumeric()) {
                break;
            }
            p = e;
            groups += 1;
        }
        (groups >= 8).then_some(p)
    }

    // ------------------------------------------------------------ others

    /// `@user:server`, `!room:server`, `#alias:server`, `$event`: kept whole.
    fn sigil(&mut self, i: usize) -> usize {
        let b = self.b;
        let c = b[i];
        if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || (c == b'#' && b[i - 1] == b'&')) {
            return i + 1;
        }
        // Room version 12 ids carry no server: `!` and the create event's
        // unpadded base64url sha256 (43 characters), kept by that grammar.
        let b64url = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-');
        let hash = self.run_while(i + 1, b64url);
        if c == b'!' && hash - i - 1 == 43 && !b.get(hash).is_some_and(|&c| b64url(c) || matches!(c, b':' | b'+' | b'=' | b'.')) {
            return hash;
        }
        let local = match c {
            b'$' => self.run_while(i + 1, |c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'_' | b'-' | b'=')),
            b'#' => self.run_while(i + 1, |c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'=')),
            _ => self.run_while(i + 1, |c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'=' | b'/' | b'+')),
        };
        if local == i + 1 {
            return i + 1;
        }
        if b.get(local) == Some(&b':') && b.get(local + 1).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'[') {
            let server = self.run_while(local + 1, |c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'[' | b']'));
            let port = if b.get(server) == Some(&b':') { self.run_while(server + 1, |c| c.is_ascii_digit()) } else { server };
            return if port > server + 1 { port } else { server };
        }
        if c == b'$' && local - i > 20 {
            return local; // an event id (room v3+ has no server part)
        }
        i + 1
    }

    /// A mask (skipped, so a second pass leaves it), or a byte array
    /// `[183, 12, …]` (masked when longer than a few elements).
    fn bracket(&mut self, i: usize) -> usize {
        let b = self.b;
        if let Some(n) = mask_len(b, i) {
            return i + n;
        }
        let mut k = i + 1;
        let mut n = 0;
        loop {
            k = self.run_while(k, |c| c == b' ');
            let d = self.run_while(k, |c| c.is_ascii_digit());
            if d == k || d - k > 3 || b[k..d].iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0')) > 255 {
                return i + 1;
            }
            n += 1;
            k = self.run_while(d, |c| c == b' ');
            match b.get(k) {
                Some(b',') => k += 1,
                Some(b']') => break,
                _ => return k.max(i + 1),
            }
        }
        if n < MIN_BYTES {
            return k + 1;
        }
        let wrap = !self.in_str(i);
        self.mask(i, k + 1, SecretKind::KeyMaterial, wrap);
        k + 1
    }

    /// `{"0":183,"1":12,…}` (`JSON.stringify` of a `Uint8Array`): masked.
    fn brace(&mut self, i: usize) -> usize {
        let b = self.b;
        let mut k = i + 1;
        let mut n = 0;
        loop {
            k = self.run_while(k, |c| c == b' ');
            let Some(q) = self.open_quote(k) else { return k.max(i + 1) };
            let d = self.run_while(q.start, |c| c.is_ascii_digit());
            let (after, closed) = close_quote(b, d);
            if d == q.start || !closed {
                return k.max(i + 1);
            }
            k = skip_space(b, after);
            if b.get(k) != Some(&b':') {
                return k.max(i + 1);
            }
            k = skip_space(b, k + 1);
            let v = self.run_while(k, |c| c.is_ascii_digit());
            if v == k || v - k > 3 {
                return k.max(i + 1);
            }
            n += 1;
            k = skip_space(b, v);
            match b.get(k) {
                Some(b',') => k += 1,
                Some(b'}') => break,
                _ => return k.max(i + 1),
            }
        }
        if n < MIN_BYTES {
            return k + 1;
        }
        let wrap = !self.in_str(i);
        self.mask(i, k + 1, SecretKind::KeyMaterial, wrap);
        k + 1
    }

    /// `-----BEGIN … KEY-----` … `-----END`: the body is masked.
    fn pem(&mut self, i: usize) -> usize {
        let b = self.b;
        if !b[i..].starts_with(b"-----BEGIN ") {
            return self.run_while(i, |c| c == b'-');
        }
        let label_end = self.run_while(i + 11, |c| c.is_ascii_uppercase() || c == b' ');
        if !b[label_end..].starts_with(b"-----") {
            return label_end;
        }
        let start = label_end + 5;
        if let Some(n) = mask_len(b, start) {
            return start + n;
        }
        let in_str = self.in_str(start);
        let cap = (start + MAX_PEM).min(b.len());
        let mut k = start;
        let mut bs = 0;
        while k < cap && !b[k..].starts_with(b"-----END") {
            if b[k] == b'\\' {
                bs += 1;
            } else {
                if b[k] == b'"' && in_str && bs % 2 == 0 {
                    break;
                }
                bs = 0;
            }
            k += 1;
        }
        if bs % 2 == 1 {
            k -= 1;
        }
        self.steps += (k - start) as u64;
        self.mask(start, k, SecretKind::KeyMaterial, false);
        k
    }

    /// Escapes: `\xNN` runs (Python bytes) are masked when long; other
    /// escapes are stepped over so the next word starts after them.
    fn backslash(&mut self, i: usize) -> usize {
        let b = self.b;
        let r = self.run_while(i, |c| c == b'\\');
        let hex2 = |p: usize| b.get(p..p + 2).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        match b.get(r) {
            Some(b'x') if r - i == 1 && hex2(r + 1) => {
                let mut k = i;
                let mut n = 0;
                while b.get(k) == Some(&b'\\') && b.get(k + 1) == Some(&b'x') && hex2(k + 2) {
                    k += 4;
                    n += 1;
                }
                self.steps += (k - i) as u64;
                if n >= MIN_BYTES {
                    self.mask(i, k, SecretKind::KeyMaterial, false);
                }
                k
            }
            Some(b'u') if b.get(r + 1..r + 5).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) => r + 5,
            Some(b'n' | b't' | b'r' | b'b' | b'f' | b'/' | b'x') => r + 1,
            _ => r,
        }
    }

    /// End of a token-shaped run: base64/base64url characters, dots,
    /// JSON-escaped `\/`, then any `=` padding.
    fn token_end(&mut self, i: usize) -> usize {
        let b = self.b;
        let mut k = i;
        while let Some(&c) = b.get(k) {
            if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'+' | b'/' | b'.' | b'~') {
                k += 1;
            } else if c == b'\\' && b.get(k + 1) == Some(&b'/') {
                k += 2;
            } else {
                break;
            }
        }
        self.steps += (k - i) as u64;
        while k > i && matches!(b[k - 1], b'.' | b'-') {
            k -= 1;
        }
        self.run_while(k, |c| c == b'=')
    }
}

/// Separator after a name (`nend`) and its closing quote (`k`, spaces skipped).
fn separator(b: &[u8], nend: usize, k: usize, quoted: bool) -> Option<(Sep, usize)> {
    match b.get(k)? {
        b':' => {
            if matches!(b.get(k + 1), Some(b':')) || b[k + 1..].starts_with(b"//") {
                return None;
            }
            Some((Sep::Colon, k + 1))
        }
        b'=' => match b.get(k + 1) {
            Some(b'=') => None,
            Some(b'>') => Some((Sep::Assign, k + 2)),
            _ => Some((Sep::Assign, k + 1)),
        },
        b'%' => match pct(b, k)? {
            (b':', n) => Some((Sep::Colon, k + n)),
            (b'=', n) => Some((Sep::Assign, k + n)),
            _ => None,
        },
        b',' if quoted => Some((Sep::Comma, k + 1)),
        b'(' if k == nend => Some((Sep::Paren, k + 1)),
        b'i' | b'w' if k == nend + 1 && b[k - 1] == b' ' => {
            let w = if b[k..].starts_with(b"is ") {
                3
            } else if b[k..].starts_with(b"was ") {
                4
            } else {
                return None;
            };
            Some((Sep::Prose, k + w))
        }
        _ => None,
    }
}

/// Skips a quote closing a name: backslash-escaped, URL-encoded, HTML-escaped.
/// Returns where the name's text ends and whether there was a quote.
fn close_quote(b: &[u8], k: usize) -> (usize, bool) {
    let q = k + b[k..].iter().take(2 * MAX_ESCAPE_LEVELS as usize).take_while(|&&c| c == b'\\').count();
    if matches!(b.get(q), Some(b'"' | b'\'')) {
        return (q + 1, true);
    }
    if let Some((b'"' | b'\'', n)) = pct(b, k) {
        return (k + n, true);
    }
    if let Some(n) = html_quote(b, k) {
        return (k + n, true);
    }
    (k, false)
}

/// A quote after `bs` backslashes inside a value nested `levels` deep: `None`
/// if it is escaped content, else how many of the backslashes belong to the
/// delimiter. Peels one escaping layer per level; an even count is a real quote.
fn closing_backslashes(bs: usize, levels: u32) -> Option<usize> {
    let mut c = bs;
    for k in 0..=levels {
        if c % 2 == 0 {
            return Some((1usize << k) - 1);
        }
        c = (c - 1) / 2;
    }
    None
}

const HTML_QUOTES: [&[u8]; 4] = [b"&quot;", b"&#34;", b"&#39;", b"&apos;"];

/// Length of an HTML-escaped quote at `k`.
fn html_quote(b: &[u8], k: usize) -> Option<usize> {
    let rest = b.get(k..)?;
    if rest.first() != Some(&b'&') {
        return None;
    }
    HTML_QUOTES.iter().find(|h| rest.len() >= h.len() && rest[..h.len()].eq_ignore_ascii_case(h)).map(|h| h.len())
}

/// `%XX` at `k`, or double-encoded `%25XX`: (the byte it stands for, length).
fn pct(b: &[u8], k: usize) -> Option<(u8, usize)> {
    if b.get(k) != Some(&b'%') {
        return None;
    }
    let hex = |p: usize| b.get(p).and_then(|&c| (c as char).to_digit(16)).map(|d| d as u8);
    let x = (hex(k + 1)? << 4) | hex(k + 2)?;
    if x == b'%' {
        if let (Some(h), Some(l)) = (hex(k + 3), hex(k + 4)) {
            return Some(((h << 4) | l, 5));
        }
    }
    Some((x, 3))
}

/// Spaces and tabs, also as `%20` / `%2520`; at most a line's indentation.
fn skip_space(b: &[u8], mut k: usize) -> usize {
    let start = k;
    while k - start < 64 {
        match b.get(k) {
            Some(b' ' | b'\t') => k += 1,
            Some(b'%') => match pct(b, k) {
                Some((b' ', n)) => k += n,
                _ => break,
            },
            _ => break,
        }
    }
    k
}

/// A bare number (JSON/Python) that ends where a value ends.
fn number_end(b: &[u8], k: usize) -> Option<usize> {
    let first = *b.get(k)?;
    if !(first.is_ascii_digit() || first == b'-') {
        return None;
    }
    let end =
        k + 1 + b[k + 1..].iter().take(64).take_while(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')).count();
    let next = b.get(end).copied().unwrap_or(b' ');
    let ends = next.is_ascii_whitespace() || matches!(next, b',' | b'}' | b']' | b')');
    (ends && b[k..end].iter().any(u8::is_ascii_digit)).then_some(end)
}

/// A plain word or small number: what an everyday name (`key`, `code`,
/// `session`) holds in prose (`MissingKey: missing`, `code: 400`).
fn is_plain(v: &[u8]) -> bool {
    if !v.is_empty() && v.len() <= 6 && v.iter().all(u8::is_ascii_digit) {
        return true;
    }
    if v.is_empty() || v.len() > 24 || !v.iter().all(|c| c.is_ascii_alphabetic() || *c == b'_') {
        return false;
    }
    let body = &v[1..];
    body.iter().all(|c| !c.is_ascii_uppercase()) || v.iter().all(|c| !c.is_ascii_lowercase())
}

/// `Bearer`, `Basic` and the like before credentials.
fn is_scheme(w: &[u8]) -> bool {
    [&b"bearer"[..], b"basic", b"token"].iter().any(|s| w.eq_ignore_ascii_case(s))
}

/// Synapse stream tokens: `s72594_4483_1934`, `t47409-4357353_219380_26003_2265`,
/// `m1~2.3`: a letter, then only digits and `_-~.`.
fn is_stream_token(v: &[u8]) -> bool {
    v.len() >= 2
        && matches!(v[0], b's' | b't' | b'm')
        && v[1].is_ascii_digit()
        && v[1..].iter().all(|&c| c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'~' | b'.'))
}

/// A path: several `/` pieces that are plain lowercase words.
fn is_path(run: &[u8]) -> bool {
    run.split(|&c| c == b'/').filter(|p| p.len() >= 3 && p.iter().all(|c| c.is_ascii_lowercase() || *c == b'_')).count() >= 2
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// `&s[from..to]` without str slicing's panic path (its message formatting
/// costs the wasm bundle several KiB); masks start and end on char boundaries.
fn slice(s: &str, from: usize, to: usize) -> &str {
    s.get(from..to).unwrap_or_default()
}
