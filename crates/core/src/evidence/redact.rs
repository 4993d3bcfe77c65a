//! Secret redaction for logs and reports before they are shown or shared.
//!
//! Hand-written rather than a regex crate: one forward byte scan that tries
//! its matchers only at word starts. Every matcher either redacts what it
//! scanned or looks at a bounded prefix, so the cost stays linear in the input
//! whatever it holds (no backtracking), and a regex engine would weigh more in
//! the wasm bundle than the whole core. Every match starts and ends on an
//! ASCII byte, so slicing never splits a UTF-8 character. Text with nothing to
//! redact is returned borrowed, unallocated.
//!
//! Keys and prefixes are kept so lines stay readable; only values go:
//! `access_token=[REDACTED:access_token]&timeout=30000`.
//!
//! The same secret reaches a log in many spellings, so each shape is matched
//! as a class: JSON (also escaped inside a JSON string, and after an escape such
//! as `\n` that glues a letter to the key), Python dicts and bytes reprs
//! (`{b'password': b'…'}`), Rust `Debug`, query strings, URL-encoded and
//! double-encoded keys (`access%5Ftoken=`, `%253Ftoken%253D`), YAML/INI
//! (`password: …`), headers. A JSON line stays a JSON line: a replaced span
//! never runs past the end of the JSON string it starts in and never cuts an
//! escape, and a bare JSON number is replaced by a quoted marker.

use std::borrow::Cow;

/// What kind of secret was removed; used as report keys (see `as_str()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    AccessToken,
    RefreshToken,
    LoginToken,
    Password,
    RecoveryKey,
    Authorization,
    Macaroon,
    /// OpenID Connect ID tokens (MAS / MSC3861 deployments), also bare JWTs.
    IdToken,
    /// OAuth 2.0 authorization `code` in a redirect or token request.
    AuthorizationCode,
    /// OAuth `client_secret`, also the 3PID `client_secret`.
    ClientSecret,
    /// Homeserver configuration secrets: `registration_shared_secret`,
    /// appservice `as_token` / `hs_token`, `macaroon_secret_key`, `form_secret`.
    ServerSecret,
    /// End-to-end encryption private material: the `secret` of `m.secret.send`,
    /// `private_key`, megolm `session_key`, pickles and pickle keys.
    E2eeSecret,
}

impl SecretKind {
    pub const ALL: [SecretKind; 12] = [
        SecretKind::AccessToken,
        SecretKind::RefreshToken,
        SecretKind::LoginToken,
        SecretKind::Password,
        SecretKind::RecoveryKey,
        SecretKind::Authorization,
        SecretKind::Macaroon,
        SecretKind::IdToken,
        SecretKind::AuthorizationCode,
        SecretKind::ClientSecret,
        SecretKind::ServerSecret,
        SecretKind::E2eeSecret,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::AccessToken => "access_token",
            SecretKind::RefreshToken => "refresh_token",
            SecretKind::LoginToken => "login_token",
            SecretKind::Password => "password",
            SecretKind::RecoveryKey => "recovery_key",
            SecretKind::Authorization => "authorization",
            SecretKind::Macaroon => "macaroon",
            SecretKind::IdToken => "id_token",
            SecretKind::AuthorizationCode => "authorization_code",
            SecretKind::ClientSecret => "client_secret",
            SecretKind::ServerSecret => "server_secret",
            SecretKind::E2eeSecret => "e2ee_secret",
        }
    }
}

/// Per-kind counts, accumulated across calls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedactionCounts {
    counts: [u32; SecretKind::ALL.len()],
}

impl RedactionCounts {
    #[must_use]
    pub fn get(&self, k: SecretKind) -> u32 {
        self.counts[k as usize]
    }

    #[must_use]
    pub fn total(&self) -> u32 {
        self.counts.iter().fold(0u32, |a, &c| a.saturating_add(c))
    }

    pub fn add(&mut self, k: SecretKind) {
        let c = &mut self.counts[k as usize];
        *c = c.saturating_add(1);
    }

    pub fn merge(&mut self, other: &RedactionCounts) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a = a.saturating_add(b);
        }
    }

    /// Only kinds with a non-zero count, in `SecretKind::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = (SecretKind, u32)> + '_ {
        SecretKind::ALL.iter().map(move |&k| (k, self.get(k))).filter(|&(_, n)| n > 0)
    }
}

const MARKER_PREFIX: &[u8] = b"[REDACTED:";

/// Deepest `\"`-escaping we follow (JSON inside JSON inside ...); deeper is garbage.
const MAX_ESCAPE_LEVELS: u32 = 8;

/// Longest key name we read (bytes, escapes included); longer words are not keys.
const MAX_KEY_BYTES: usize = 48;

/// Which value shapes a key takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Quoted values, `key=value`, and also unquoted `key: value` / `key = value`
    /// to the end of the line (YAML, INI, logfmt), and bare JSON numbers.
    Any,
    /// Quoted values and `key=value` only: the key is a common word in prose
    /// (`token: expired`, `secret: rotated`).
    Assigned,
    /// `?key=value` / `&key=value` only (`code` is everywhere else too).
    Query,
}

/// Key names, lowercased with `_` and `-` dropped, so `access_token`,
/// `accessToken`, `Access-Token` and `access%5Ftoken` are one entry.
const FIELDS: &[(&str, SecretKind, Shape)] = &[
    ("accesstoken", SecretKind::AccessToken, Shape::Any),
    ("refreshtoken", SecretKind::RefreshToken, Shape::Any),
    ("logintoken", SecretKind::LoginToken, Shape::Any),
    // m.login.token bodies and `?token=` links carry login tokens.
    ("token", SecretKind::LoginToken, Shape::Assigned),
    ("password", SecretKind::Password, Shape::Any),
    ("newpassword", SecretKind::Password, Shape::Any),
    ("oldpassword", SecretKind::Password, Shape::Any),
    ("passwd", SecretKind::Password, Shape::Any),
    // Same kind as the report's context-key check, so both paths count it alike.
    ("passphrase", SecretKind::Password, Shape::Any),
    ("recoverykey", SecretKind::RecoveryKey, Shape::Any),
    ("idtoken", SecretKind::IdToken, Shape::Any),
    ("code", SecretKind::AuthorizationCode, Shape::Query),
    ("clientsecret", SecretKind::ClientSecret, Shape::Any),
    ("registrationsharedsecret", SecretKind::ServerSecret, Shape::Any),
    ("astoken", SecretKind::ServerSecret, Shape::Any),
    ("hstoken", SecretKind::ServerSecret, Shape::Any),
    ("macaroonsecretkey", SecretKind::ServerSecret, Shape::Any),
    ("formsecret", SecretKind::ServerSecret, Shape::Any),
    ("workerreplicationsecret", SecretKind::ServerSecret, Shape::Any),
    ("secret", SecretKind::E2eeSecret, Shape::Assigned),
    ("privatekey", SecretKind::E2eeSecret, Shape::Any),
    ("sessionkey", SecretKind::E2eeSecret, Shape::Any),
    ("picklekey", SecretKind::E2eeSecret, Shape::Any),
    ("pickle", SecretKind::E2eeSecret, Shape::Assigned),
    ("decryptionkey", SecretKind::E2eeSecret, Shape::Any),
];

/// The secret kind of a field name (`"accessToken"`, `"client_secret"`, ...),
/// or `None`: what a report's key/value context should be checked against.
#[must_use]
pub fn field_kind(name: &str) -> Option<SecretKind> {
    match read_key(name.as_bytes(), 0) {
        Some((f, end)) if end == name.len() => Some(f.1),
        _ => None,
    }
}

enum Hit {
    /// Replace `start..end` with a marker, continue at `end`. With `wrap`, the
    /// marker is put between two copies of that quote (a bare JSON number).
    Redact { start: usize, end: usize, kind: SecretKind, wrap: Option<(usize, usize)> },
    /// Nothing to redact up to here (a marker, a pagination token); continue there.
    Skip(usize),
}

fn hit(start: usize, end: usize, kind: SecretKind) -> Hit {
    Hit::Redact { start, end, kind, wrap: None }
}

/// Whether a position sits inside a `"…"` string at the outer JSON level,
/// tracked lazily over the input (each byte looked at once, plus short
/// look-aheads from a copy). Raw line breaks reset it: JSON strings never hold one.
#[derive(Clone, Copy, Default)]
struct JsonState {
    pos: usize,
    in_str: bool,
    esc: bool,
    /// A run of backslashes (`start..end`) that `open_quote` has counted. A
    /// value's opening quote can follow any number of them
    /// (`"password":\\\\…\"x"`); reading them again byte by byte, at the
    /// next key, made a line of many such keys cost several times its length.
    counted: (usize, usize),
}

impl JsonState {
    fn advance(&mut self, b: &[u8], to: usize) {
        let to = to.min(b.len());
        while self.pos < to {
            let c = b[self.pos];
            if c == b'\n' || c == b'\r' {
                self.in_str = false;
                self.esc = false;
            } else if c == b'\\' {
                // Each backslash flips `esc` (escapes the next, or is escaped),
                // so a run is crossed by its parity: counted in one tight loop,
                // or not at all if a matcher has just counted it.
                let end = if self.counted.0 == self.pos && self.counted.1 > self.pos {
                    self.counted.1.min(to)
                } else {
                    run(&b[..to], self.pos, |c| c == b'\\')
                };
                self.esc ^= (end - self.pos) % 2 == 1;
                self.pos = end;
                continue;
            } else if self.esc {
                self.esc = false;
            } else if c == b'"' {
                self.in_str = !self.in_str;
            }
            self.pos += 1;
        }
    }

    /// In a string at `to` (>= `self.pos`), without moving `self`.
    fn in_str_at(&self, b: &[u8], to: usize) -> bool {
        let mut s = *self;
        s.advance(b, to);
        s.in_str
    }
}

/// Replace every secret with `[REDACTED:<kind>]`, counting each replacement.
pub fn redact<'a>(input: &'a str, counts: &mut RedactionCounts) -> Cow<'a, str> {
    let b = input.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    // A match starting exactly here follows a marker (`]`) on a second pass;
    // treat it as a boundary now too so redaction is idempotent.
    let mut last_end = usize::MAX;
    let mut js = JsonState::default();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if is_word(c) {
            // Matchers only run at word starts: linear, and gives `\b` for free.
            let wend = run(b, i, is_word);
            let prev = if i == 0 || i == last_end { b' ' } else { b[i - 1] };
            let mut found = match_word(b, i, wend, prev, &mut js);
            if found.is_none() {
                // `\npassword=`, `%3Faccess_token%3D`: the word really starts after the escape.
                if let Some((j, decoded)) = after_escape(b, i, wend) {
                    found = match_word(b, j, wend, decoded, &mut js);
                }
            }
            match found {
                Some(Hit::Redact { start, end, kind, wrap }) => {
                    let s = out.get_or_insert_with(|| String::with_capacity(input.len()));
                    s.push_str(slice(input, copied, start));
                    let q = wrap.map_or("", |(a, z)| slice(input, a, z));
                    s.push_str(q);
                    s.push_str("[REDACTED:");
                    s.push_str(kind.as_str());
                    s.push(']');
                    s.push_str(q);
                    copied = end;
                    counts.add(kind);
                    last_end = end;
                    i = end.max(i + 1);
                }
                Some(Hit::Skip(next)) => i = next.max(i + 1),
                None => i = wend,
            }
        } else if c == b'[' {
            // Skip our own markers so a second pass leaves them alone.
            i += marker_len(b, i).unwrap_or(1);
        } else {
            i += 1;
        }
    }
    match out {
        Some(mut s) => {
            s.push_str(slice(input, copied, input.len()));
            Cow::Owned(s)
        }
        None => Cow::Borrowed(input),
    }
}

/// `&s[from..to]` without str slicing's panic path (its message formatting
/// costs the wasm bundle several KiB); matches start and end on ASCII bytes,
/// so this never falls back.
fn slice(s: &str, from: usize, to: usize) -> &str {
    s.get(from..to).unwrap_or_default()
}

/// A word glued to an escape before it: `\n`, `\t`, `\u00e9`, `\xe9` (JSON,
/// Python) or `%3F`, `%253F` (URL-encoded, double-encoded). Returns where the
/// real word starts and the character the escape stands for.
fn after_escape(b: &[u8], i: usize, wend: usize) -> Option<(usize, u8)> {
    let prev = *b.get(i.checked_sub(1)?)?;
    let j = match prev {
        b'\\' => match b[i] {
            b'n' | b't' | b'r' | b'b' | b'f' => i + 1,
            b'u' if (i + 1..i + 5).all(|p| b.get(p).is_some_and(u8::is_ascii_hexdigit)) => i + 5,
            b'x' if (i + 1..i + 3).all(|p| b.get(p).is_some_and(u8::is_ascii_hexdigit)) => i + 3,
            _ => return None,
        },
        b'%' => {
            let (decoded, n) = pct(b, i - 1)?;
            return (i - 1 + n < wend).then_some((i - 1 + n, decoded));
        }
        _ => return None,
    };
    (j < wend).then_some((j, b' '))
}

fn match_word(b: &[u8], i: usize, wend: usize, prev: u8, js: &mut JsonState) -> Option<Hit> {
    let word = &b[i..wend];
    if let Some((f, kend)) = read_key(b, i) {
        // Brought up to date only where a key needs it; it only moves forward.
        js.advance(b, i);
        if f.2 != Shape::Query || matches!(prev, b'?' | b'&' | b'#') {
            if let Some(found) = match_field(b, kend, f, js) {
                return Some(found);
            }
        }
    }
    if word.eq_ignore_ascii_case(b"authorization") {
        return match_authorization(b, wend);
    }
    if word.eq_ignore_ascii_case(b"bearer") {
        return match_bearer(b, wend);
    }
    // A Matrix id (`@syt_bot:hs`, `#syl_lounge:hs`) keeps its localpart.
    let sigil = matches!(prev, b'@' | b'#' | b'!' | b'$' | b'+');
    if word.len() >= 4 && word[3] == b'_' && !sigil {
        if let Some(kind) = synapse_prefix(&word[..3]) {
            return match_synapse(b, i, kind);
        }
        if let Some(kind) = mas_prefix(&word[..3]) {
            return match_mas(word, i, wend, kind);
        }
    }
    // Inside a longer base64 blob is not a token start.
    let in_blob = matches!(prev, b'+' | b'/' | b'-' | b'=');
    if word.starts_with(b"eyJ") && !in_blob {
        return match_jwt(b, i);
    }
    if word.starts_with(b"MDAx") && !in_blob {
        return match_macaroon(b, i);
    }
    if word.starts_with(b"Es") && !matches!(prev, b'+' | b'/') {
        return match_recovery(b, i);
    }
    None
}

type Field = (&'static str, SecretKind, Shape);

const _: () = assert!(FIELDS.len() <= 32, "read_key keeps its candidates in a u32");

/// Longest name in `FIELDS`.
const MAX_FIELD_LEN: usize = {
    let (mut n, mut i) = (0, 0);
    while i < FIELDS.len() {
        if FIELDS[i].0.len() > n {
            n = FIELDS[i].0.len();
        }
        i += 1;
    }
    n
};

/// For each position and letter or digit, the `FIELDS` with it there, as a bit
/// set: a word narrows its candidates with one AND per byte, and most words are
/// rejected at their first byte.
const KEY_AT: [[u32; 36]; MAX_FIELD_LEN] = {
    let mut t = [[0u32; 36]; MAX_FIELD_LEN];
    let mut i = 0;
    while i < FIELDS.len() {
        let name = FIELDS[i].0.as_bytes();
        let mut n = 0;
        while n < name.len() {
            t[n][alnum_index(name[n])] |= 1 << i;
            n += 1;
        }
        i += 1;
    }
    t
};

/// 0-9 for digits, 10-35 for letters of either case (callers pass alphanumerics).
const fn alnum_index(c: u8) -> usize {
    if c.is_ascii_digit() {
        (c - b'0') as usize
    } else {
        (c.to_ascii_lowercase() - b'a') as usize + 10
    }
}

/// A key name at `i` (letters, digits, `_`, `-`, `%5F`), normalised and looked up.
/// The candidates narrow byte by byte, so a word costs what it shares with a key.
fn read_key(b: &[u8], i: usize) -> Option<(&'static Field, usize)> {
    let first = *b.get(i)?;
    if !first.is_ascii_alphanumeric() {
        return None;
    }
    let mut cand = KEY_AT[0][alnum_index(first)];
    if cand == 0 {
        return None;
    }
    let mut n = 1;
    let mut k = i + 1;
    while k < b.len() {
        let c = b[k];
        if c.is_ascii_alphanumeric() {
            cand &= KEY_AT.get(n).map_or(0, |row| row[alnum_index(c)]);
            if cand == 0 {
                return None;
            }
            n += 1;
            k += 1;
        } else if c == b'_' || c == b'-' {
            k += 1;
        } else if let Some((b'_', m)) = pct(b, k) {
            k += m;
        } else {
            break;
        }
        if k - i > MAX_KEY_BYTES {
            return None;
        }
    }
    let mut left = cand;
    while left != 0 {
        let j = left.trailing_zeros() as usize;
        left &= left - 1;
        if FIELDS[j].0.len() == n {
            return Some((&FIELDS[j], k));
        }
    }
    None
}

/// `key=value`, `key: "value"`, `"key":"value"`, `'key': 'value'`, `\"key\":\"value\"`,
/// `b'key': b'value'`, `key%3Dvalue`, `"key": 123`, `key: value` (YAML).
fn match_field(b: &[u8], kend: usize, f: &Field, js: &mut JsonState) -> Option<Hit> {
    let (_, kind, shape) = *f;
    let (mut k, key_quote) = close_key_quote(b, kend);
    k = skip_space(b, k);
    let (sep, after_sep, encoded) = read_sep(b, k)?;
    if sep == b'=' && b.get(after_sep) == Some(&b'=') {
        // `token == x` is a comparison, not an assignment.
        return None;
    }
    let direct = matches!(b.get(after_sep), Some(&c) if c != b' ' && c != b'\t');
    if shape == Shape::Query && !(sep == b'=' && direct) {
        return None;
    }
    k = skip_space(b, after_sep);
    // Rust `Debug` of an `Option<String>` field (matrix-rust-sdk logs).
    if b[k..].starts_with(b"Some(") {
        k += 5;
    }
    if shape != Shape::Query {
        if let Some(q) = open_quote(b, k) {
            js.counted = q.backslashes;
            let outer = js.in_str_at(b, k);
            // A plain `"` inside a JSON string that JSON structure follows
            // closes that string: `{"m":"password:", "n":1}` has no value to take.
            let closes = outer && q.qc == b'"' && q.levels == 0 && !q.encoded && {
                let next = skip_space(b, q.start);
                matches!(b.get(next), None | Some(b',' | b':' | b'}' | b']'))
            };
            if closes || (encoded && !q.encoded) {
                return None;
            }
            return quoted_value(b, &q, kind, outer);
        }
    }
    if sep == b'=' && k == after_sep {
        return bare_value(b, k, kind, encoded);
    }
    if shape != Shape::Any || encoded {
        // Prose ("the token was rejected", "token: expired") lands here.
        return None;
    }
    if let Some(quote) = key_quote {
        if let Some(end) = number_end(b, k) {
            return Some(Hit::Redact { start: k, end, kind, wrap: Some(quote) });
        }
    }
    if is_not_a_value(&b[k..]) {
        return None;
    }
    line_value(b, k, kind, js.in_str_at(b, k))
}

/// Skips an optional (backslash-escaped, URL-encoded) quote closing a key;
/// returns where the key's text ends and that quote's byte range.
fn close_key_quote(b: &[u8], k: usize) -> (usize, Option<(usize, usize)>) {
    let q = run(b, k, |c| c == b'\\');
    if matches!(b.get(q), Some(b'"' | b'\'')) {
        return (q + 1, Some((k, q + 1)));
    }
    if let Some((b'"' | b'\'', n)) = pct(b, k) {
        return (k + n, None);
    }
    (k, None)
}

/// `:` or `=`, plain or URL-encoded: (separator, position after, encoded).
fn read_sep(b: &[u8], k: usize) -> Option<(u8, usize, bool)> {
    match b.get(k)? {
        &c @ (b':' | b'=') => Some((c, k + 1, false)),
        b'%' => match pct(b, k)? {
            (c @ (b':' | b'='), n) => Some((c, k + n, true)),
            _ => None,
        },
        _ => None,
    }
}

/// JSON/Python/YAML literals and structures after `key:` are not secret values.
fn is_not_a_value(v: &[u8]) -> bool {
    let word_end = run(v, 0, is_word);
    let word = &v[..word_end];
    const LITERALS: [&[u8]; 8] = [b"null", b"true", b"false", b"None", b"True", b"False", b"undefined", b"nil"];
    matches!(v.first(), None | Some(b'{' | b'[' | b'(' | b'<' | b',' | b';' | b'}' | b']')) || (word_end > 0 && LITERALS.contains(&word))
}

/// A bare number (JSON/Python) that ends where a value ends.
fn number_end(b: &[u8], k: usize) -> Option<usize> {
    let first = *b.get(k)?;
    if !(first.is_ascii_digit() || first == b'-') {
        return None;
    }
    let end = run(b, k + 1, |c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    let next = b.get(end).copied().unwrap_or(b' ');
    let ends = next.is_ascii_whitespace() || matches!(next, b',' | b'}' | b']' | b')');
    (ends && b[k..end].iter().any(u8::is_ascii_digit)).then_some(end)
}

/// `key: value` / `key = value` without quotes: the rest of the line, stopping at
/// a JSON-escaped line break and, inside a JSON string, at its closing quote.
fn line_value(b: &[u8], start: usize, kind: SecretKind, in_str: bool) -> Option<Hit> {
    if let Some(n) = marker_len(b, start) {
        return Some(Hit::Skip(start + n));
    }
    // `end` only ever moves past whole characters and whole escapes.
    let mut j = start;
    let mut end = start;
    while let Some(&c) = b.get(j) {
        match c {
            b'\n' | b'\r' => break,
            b'\\' => {
                let r = run(b, j, |c| c == b'\\');
                if matches!(b.get(r), Some(b'n' | b'r')) {
                    break; // a JSON-escaped line break
                }
                // An odd run escapes the next (ASCII) character, a quote included.
                let odd = (r - j) % 2 == 1;
                j = if odd && b.get(r).is_some_and(u8::is_ascii) { r + 1 } else { r };
                end = j;
                continue;
            }
            b'"' if in_str => break,
            b' ' | b'\t' => {}
            _ => end = j + 1,
        }
        j += 1;
    }
    span(b, start, end, kind)
}

/// `Authorization: <scheme> <credentials>` (header, JSON, Python dict or
/// bytes, URL-encoded `Authorization%3A%20Bearer%20…`).
fn match_authorization(b: &[u8], wend: usize) -> Option<Hit> {
    let (mut k, _) = close_key_quote(b, wend);
    k = skip_space(b, k);
    let (_, after, _) = read_sep(b, k)?;
    k = skip_space(b, after);
    if b.get(k) == Some(&b'[') {
        k += 1; // Twisted: `{b'Authorization': [b'Bearer …']}`
    }
    if let Some(q) = open_quote(b, k) {
        k = q.start;
    }
    let scheme_end = run(b, k, |c| c.is_ascii_alphabetic());
    let scheme = &b[k..scheme_end];
    // X-Matrix carries only public signatures; unknown schemes are left alone.
    if !(scheme.eq_ignore_ascii_case(b"bearer") || scheme.eq_ignore_ascii_case(b"basic") || scheme.eq_ignore_ascii_case(b"token")) {
        return None;
    }
    let start = skip_space(b, scheme_end);
    if start == scheme_end {
        return None;
    }
    let end = credentials_end(b, start);
    if is_key_at(b, start, end) {
        return None; // `Authorization: token password: x`: that key's value goes instead
    }
    (end > start).then(|| hit(start, end, SecretKind::Authorization))
}

/// `Bearer <tok>` outside a header; the value must look like a token so
/// prose ("Bearer tokens are required", `Bearer realm=`) survives.
fn match_bearer(b: &[u8], wend: usize) -> Option<Hit> {
    let start = skip_space(b, wend);
    if start == wend {
        return None;
    }
    let end = credentials_end(b, start);
    let tok = &b[start..end];
    let core_len = tok.len() - tok.iter().rev().take_while(|&&c| c == b'=').count();
    let core = &tok[..core_len];
    let letters = core.iter().all(u8::is_ascii_alphabetic);
    // Prose is one lowercase or Capitalised word; a token is anything else.
    let mixed_case = core.len() > 1 && core[1..].iter().any(u8::is_ascii_uppercase) && core.iter().any(u8::is_ascii_lowercase);
    let token_like = if letters {
        core.len() >= 24 || (core.len() >= 6 && mixed_case)
    } else {
        core.len() >= 3 && core.iter().any(u8::is_ascii_alphanumeric)
    };
    // `Bearer password: x`: the word is the next key, whose value goes instead.
    if marker_len(b, start).is_some() || is_key_at(b, start, end) {
        return None;
    }
    token_like.then(|| hit(start, end, SecretKind::Authorization))
}

/// `start..end` is a key name (plus `=` that credentials may end in).
fn is_key_at(b: &[u8], start: usize, end: usize) -> bool {
    let w = &b[start..end];
    w.eq_ignore_ascii_case(b"authorization")
        || w.eq_ignore_ascii_case(b"bearer")
        || read_key(b, start).is_some_and(|(_, e)| e <= end && b[e..end].iter().all(|&c| c == b'='))
}

fn synapse_prefix(p: &[u8]) -> Option<SecretKind> {
    match p {
        b"syt" => Some(SecretKind::AccessToken),
        b"syr" => Some(SecretKind::RefreshToken),
        b"syl" => Some(SecretKind::LoginToken),
        _ => None,
    }
}

/// `syt_<base64 localpart>_<random>_<crc>`; the localpart is standard base64
/// so `+` and `/` (JSON-escaped `\/`) can occur.
fn match_synapse(b: &[u8], i: usize, kind: SecretKind) -> Option<Hit> {
    let body = i + 4;
    let mut end = token_run(b, body, |c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'+' | b'/'));
    // Tokens end in a base62 crc; trailing punctuation belongs to the sentence.
    while end > body && !b[end - 1].is_ascii_alphanumeric() {
        end -= 1;
    }
    // `syl_lounge:example.org` is a room alias or user id, not a token.
    if b.get(end) == Some(&b':') && b.get(end + 1).is_some_and(u8::is_ascii_alphanumeric) {
        return Some(Hit::Skip(end));
    }
    (end - body >= 8).then(|| hit(i, end, kind))
}

/// Matrix Authentication Service tokens (MSC3861 deployments).
fn mas_prefix(p: &[u8]) -> Option<SecretKind> {
    match p {
        b"mat" | b"mct" => Some(SecretKind::AccessToken),
        b"mar" | b"mcr" => Some(SecretKind::RefreshToken),
        _ => None,
    }
}

/// Exact shape `mat_<30 alnum>_<6 base62>`: the prefixes alone are common words.
fn match_mas(word: &[u8], i: usize, wend: usize, kind: SecretKind) -> Option<Hit> {
    let ok = word.len() == 41
        && word[34] == b'_'
        && word[4..34].iter().all(u8::is_ascii_alphanumeric)
        && word[35..].iter().all(u8::is_ascii_alphanumeric);
    ok.then(|| hit(i, wend, kind))
}

/// A JWT (`eyJ` is base64url of `{"`): header.payload.signature. In Matrix logs
/// that is an OIDC ID token or a MAS-issued token.
fn match_jwt(b: &[u8], i: usize) -> Option<Hit> {
    let b64url = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    let h = run(b, i, b64url);
    if b.get(h) != Some(&b'.') || !b[h + 1..].starts_with(b"eyJ") {
        return None;
    }
    let p = run(b, h + 1, b64url);
    if b.get(p) != Some(&b'.') {
        return None;
    }
    let end = run(b, p + 1, b64url);
    (end - i >= 24).then(|| hit(i, end, SecretKind::IdToken))
}

/// Base64url macaroon: `MDAx` is base64 of the "001" length prefix of its first packet.
fn match_macaroon(b: &[u8], i: usize) -> Option<Hit> {
    let body = run(b, i, |c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
    let end = run(b, body, |c| c == b'=');
    (end - i >= 40).then(|| hit(i, end, SecretKind::Macaroon))
}

/// Secret-storage recovery key: 48 base58 chars starting `Es` (0x8B01 prefix),
/// plain or as 12 groups of 4, the groups separated by spaces, tabs or dashes
/// (one or a few), the key possibly wrapped once onto the next line.
fn match_recovery(b: &[u8], i: usize) -> Option<Hit> {
    // A base64 blob continuing past the base58 run is not a key.
    let ends_here = |p: usize| b.get(p).is_none_or(|&c| !(c.is_ascii_alphanumeric() || c == b'+' || c == b'/'));
    let first = run(b, i, is_base58);
    if !ends_here(first) {
        return None;
    }
    let found = |end| hit(i, end, SecretKind::RecoveryKey);
    let len = first - i;
    if len >= 48 {
        return Some(found(first));
    }
    if len == 4 {
        // Take up to 12 groups; 8+ on one line still redacts a truncated key,
        // which is nearly as sensitive, while prose rarely has 8 four-letter
        // words in a row. Across a line break only the whole key counts.
        let (mut p, mut groups, mut wrapped) = (first, 1, false);
        let mut before_break = None;
        while groups < 12 {
            let Some((g, brk)) = group_separator(b, p) else { break };
            if brk && wrapped {
                break;
            }
            let e = run(b, g, is_base58);
            if e - g != 4 || !ends_here(e) {
                break;
            }
            if brk {
                wrapped = true;
                before_break = Some((p, groups));
            }
            p = e;
            groups += 1;
        }
        if groups == 12 || (!wrapped && groups >= 8) {
            return Some(found(p));
        }
        return match before_break {
            Some((p, n)) if n >= 8 => Some(found(p)),
            _ => None,
        };
    }
    // A plain key wrapped once: the two pieces make a valid key (prefix and
    // parity checked, so two base58-looking words on two lines are not one).
    if len >= 8 {
        if let Some((g, true)) = group_separator(b, first) {
            let e = run(b, g, is_base58);
            if len + (e - g) == 48 && ends_here(e) && valid_recovery_key(b[i..first].iter().chain(&b[g..e])) {
                return Some(found(e));
            }
        }
    }
    None
}

/// Base58-decodes 48 characters and checks the secret-storage key format
/// (matrix-spec, "Key representation"): 0x8B 0x01, 32 key bytes, a parity byte
/// that makes the XOR of all 35 bytes zero.
fn valid_recovery_key<'a>(chars: impl Iterator<Item = &'a u8>) -> bool {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    // Big-endian accumulator: 48 base58 digits need at most 36 bytes.
    let mut n = [0u8; 36];
    for c in chars {
        let Some(d) = ALPHABET.iter().position(|a| a == c) else { return false };
        let mut carry = d as u32;
        for byte in n.iter_mut().rev() {
            let v = u32::from(*byte) * 58 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        if carry != 0 {
            return false;
        }
    }
    n[0] == 0 && n[1] == 0x8B && n[2] == 0x01 && n[1..].iter().fold(0, |a, b| a ^ b) == 0
}

/// Between two recovery-key groups: 1-3 of space/tab/dash, or one line break
/// (raw or JSON `\n`, `\r\n`) with spaces around it. (next, crossed a break).
fn group_separator(b: &[u8], p: usize) -> Option<(usize, bool)> {
    let hs = |c: u8| c == b' ' || c == b'\t';
    let q = run(b, p, |c| hs(c) || c == b'-');
    let brk = if b.get(q) == Some(&b'\r') && b.get(q + 1) == Some(&b'\n') {
        2
    } else if matches!(b.get(q), Some(b'\n' | b'\r')) {
        1
    } else if b[q..].starts_with(b"\\r\\n") {
        4
    } else if b[q..].starts_with(b"\\n") {
        2
    } else {
        0
    };
    if brk == 0 {
        return (1..=3).contains(&(q - p)).then_some((q, false));
    }
    let r = run(b, q + brk, hs);
    (q - p <= 8 && r - (q + brk) <= 8).then_some((r, true))
}

struct Quote {
    /// First byte of the value.
    start: usize,
    /// The quote byte.
    qc: u8,
    /// Backslash-escaping depth of the quote (JSON in a JSON string).
    levels: u32,
    /// `%22…%22`: the value ends at the next encoded quote or delimiter.
    encoded: bool,
    /// Where the backslashes before the quote lie (empty if none).
    backslashes: (usize, usize),
}

/// An opening quote at `k`: after `n` backslashes, after a Python bytes `b`,
/// or URL-encoded.
fn open_quote(b: &[u8], mut k: usize) -> Option<Quote> {
    if b.get(k) == Some(&b'b') && matches!(b.get(k + 1), Some(b'\'' | b'"')) {
        k += 1;
    }
    if let Some((qc @ (b'"' | b'\''), n)) = pct(b, k) {
        return Some(Quote { start: k + n, qc, levels: 0, encoded: true, backslashes: (k, k) });
    }
    let q = run(b, k, |c| c == b'\\');
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
    Some(Quote { start: q + 1, qc, levels, encoded: false, backslashes: (k, q) })
}

/// Value in quotes, possibly backslash-escaped `levels` times (JSON in a
/// string). `outer`: the quote opened inside a `"…"` string, so a bare `"`
/// ends that string and the value with it (`"msg": "user's password: 'x"`).
fn quoted_value(b: &[u8], q: &Quote, kind: SecretKind, outer: bool) -> Option<Hit> {
    if q.encoded {
        return bare_value(b, q.start, kind, true);
    }
    let (start, qc, levels) = (q.start, q.qc, q.levels);
    let mut j = start;
    let mut bs = 0usize;
    let end = loop {
        let Some(&c) = b.get(j) else {
            // Truncated: everything to the end is the value.
            break j;
        };
        if c == b'\\' {
            bs += 1;
        } else if c == qc {
            // A quote glued to a word (`"a=\"b\"c"`) is content: a closing quote
            // is followed by structure or space, and guessing short would leak the rest.
            let glued = b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric);
            if let Some(delim) = closing_backslashes(bs, levels).filter(|_| !glued) {
                let end = j - delim;
                // `token= "password": "x"`, `password=b' {'refresh_token': 'x'`:
                // the "value" ends in the next secret key (its last word, after
                // any opening brace or quote); skip it so the scan redacts that
                // key's value instead.
                let last_word = b[start..end]
                    .iter()
                    .rposition(|c| matches!(c, b' ' | b'{' | b'\'' | b'"' | b'(' | b'[' | b','))
                    .map_or(start, |p| start + p + 1);
                if b.get(skip_space(b, j + 1)) == Some(&b':') && read_key(b, last_word).is_some_and(|(_, e)| e == end) {
                    return None;
                }
                break end;
            }
            bs = 0;
        } else if c == b'"' && outer && bs % 2 == 0 {
            break j - bs;
        } else if c == b'\n' || c == b'\r' {
            // Strings never span raw line breaks; stop the damage at the line.
            break j;
        } else {
            bs = 0;
        }
        j += 1;
    };
    if kind == SecretKind::LoginToken && is_stream_token(&b[start..end]) {
        return Some(Hit::Skip(end));
    }
    span(b, start, end, kind)
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

/// Bytes that end a query-string value (plain or, when `encoded`, as `%XX`).
fn ends_bare(c: u8) -> bool {
    c <= b' ' || matches!(c, b'&' | b'"' | b'\'' | b')' | b']' | b'>' | b',' | b'#' | b'\\' | b';' | b'}' | b'<')
}

/// Query-string style value: up to a delimiter that cannot be in a token.
fn bare_value(b: &[u8], start: usize, kind: SecretKind, encoded: bool) -> Option<Hit> {
    if let Some(n) = marker_len(b, start) {
        return Some(Hit::Skip(start + n));
    }
    let mut end = start;
    while let Some(&c) = b.get(end) {
        if ends_bare(c) {
            break;
        }
        if encoded {
            if let Some((d, _)) = pct(b, end) {
                if ends_bare(d) || d == b'%' {
                    break;
                }
            }
        }
        end += 1;
    }
    if kind == SecretKind::LoginToken && is_stream_token(&b[start..end]) {
        // A pagination / sync token (`t47409-4357353_219380_26003_2265`) is not a credential.
        return Some(Hit::Skip(end));
    }
    span(b, start, end, kind)
}

/// Synapse stream tokens: `s72594_4483_1934`, `t47409-4357353_219380_26003_2265`,
/// `m1~2.3`: a letter, then only digits and `_-~.`.
fn is_stream_token(v: &[u8]) -> bool {
    v.len() >= 2
        && matches!(v[0], b's' | b't' | b'm')
        && v[1].is_ascii_digit()
        && v[1..].iter().all(|&c| c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'~' | b'.'))
}

fn span(b: &[u8], start: usize, end: usize, kind: SecretKind) -> Option<Hit> {
    if end <= start {
        return None;
    }
    if marker_len(b, start) == Some(end - start) {
        return Some(Hit::Skip(end));
    }
    Some(hit(start, end, kind))
}

/// RFC 6750 b64token, plus JSON-escaped `\/` and URL-encoded `%2B %2F %3D`.
fn credentials_end(b: &[u8], start: usize) -> usize {
    let b64token = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
    let mut end = start;
    loop {
        end = token_run(b, end, b64token);
        match pct(b, end) {
            Some((b'+' | b'/' | b'=', n)) => end += n,
            _ => break,
        }
    }
    // A sentence's full stop is not part of the token.
    while end > start && b[end - 1] == b'.' {
        end -= 1;
    }
    run(b, end, |c| c == b'=')
}

/// Length of a `[REDACTED:<kind>]` marker at `i`.
fn marker_len(b: &[u8], i: usize) -> Option<usize> {
    let rest = b.get(i..)?.strip_prefix(MARKER_PREFIX)?;
    // One look at the name (kinds are lowercase, digits and `_`), then one comparison.
    let n = run(&rest[..rest.len().min(24)], 0, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
    if rest.get(n) != Some(&b']') {
        return None;
    }
    let name = &rest[..n];
    SecretKind::ALL.iter().any(|k| k.as_str().as_bytes() == name).then_some(MARKER_PREFIX.len() + n + 1)
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

/// Spaces and tabs, also as `%20` / `%2520`.
fn skip_space(b: &[u8], mut k: usize) -> usize {
    loop {
        match b.get(k) {
            Some(b' ' | b'\t') => k += 1,
            Some(b'%') => match pct(b, k) {
                Some((b' ', n)) => k += n,
                _ => return k,
            },
            _ => return k,
        }
    }
}

fn run(b: &[u8], mut k: usize, f: impl Fn(u8) -> bool) -> usize {
    while k < b.len() && f(b[k]) {
        k += 1;
    }
    k
}

/// Like `run`, also taking JSON's `\/` when `/` is allowed.
fn token_run(b: &[u8], mut k: usize, f: impl Fn(u8) -> bool) -> usize {
    while let Some(&c) = b.get(k) {
        if f(c) {
            k += 1;
        } else if c == b'\\' && b.get(k + 1) == Some(&b'/') && f(b'/') {
            k += 2;
        } else {
            break;
        }
    }
    k
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_base58(c: u8) -> bool {
    c.is_ascii_alphanumeric() && !matches!(c, b'0' | b'O' | b'I' | b'l')
}

#[cfg(test)]
mod tests {
    use super::*;
    use SecretKind::*;

    const SYT: &str = "syt_YWxpY2U_abcdEFGHijkl_0a1B2c";
    const SYR: &str = "syr_YWxpY2U_mnopQRSTuvwx_1b2C3d";
    const SYL: &str = "syl_QwErTyUiOpAsDfGhJkLz_4e5F6g";
    const MACAROON: &str =
        "MDAxOGxvY2F0aW9uIGxvY2FsaG9zdAowMDEzaWRlbnRpZmllciBrZXkKMDAxMGNpZCBnZW4gPSAxCjAwMjJjaWQgdXNlcl9pZCA9IEBhbGljZTpsb2NhbGhvc3QK-_x";
    const RK_GROUPED: &str = "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d";
    const RK_PLAIN: &str = "EsTcLW2KPGiFwKEA3As5g5c4BXwkqeeJZJV8Q9fugUMNUE4d";
    const CURVE: &str = "Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4";
    const OTK_ERROR: &str = "One time key signed_curve25519:AAAAQ already exists. Old key: {\"key\":\"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4\",\"signatures\":{\"@alice:example.org\":{\"ed25519:ABCDEFGHIJ\":\"dGhpcyBpcyBhIHNpZ25hdHVyZSBub3QgYSBzZWNyZXQgYXQgYWxsIG5vIHNpcmVlIGJhc2U2NCBzaWduYXR1cmU\"}}}; new key: {'key': 'Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE', 'signatures': {'@alice:example.org': {'ed25519:ABCDEFGHIJ': 'c2lnbmF0dXJlIHR3byBpcyBhbHNvIG5vdCBhIHNlY3JldCBqdXN0IHB1YmxpYyBkYXRhIGhlcmUgb2s'}}}";

    fn marker(kind: SecretKind) -> String {
        format!("[REDACTED:{}]", kind.as_str())
    }

    /// `secret` (present once) becomes exactly one `kind` marker; nothing else changes.
    #[track_caller]
    fn assert_redacted(input: &str, secret: &str, kind: SecretKind) {
        assert_eq!(input.matches(secret).count(), 1, "bad test input: {input}");
        let mut c = RedactionCounts::default();
        let out = redact(input, &mut c);
        assert_eq!(out, input.replacen(secret, &marker(kind), 1), "input: {input}");
        assert_eq!(c.get(kind), 1, "input: {input}");
        assert_eq!(c.total(), 1, "input: {input}");
        assert_idempotent(input);
    }

    #[track_caller]
    fn assert_unchanged(input: &str) {
        let mut c = RedactionCounts::default();
        let out = redact(input, &mut c);
        assert!(matches!(out, Cow::Borrowed(_)), "changed: {input} -> {out}");
        assert_eq!(c.total(), 0);
    }

    #[track_caller]
    fn assert_idempotent(input: &str) {
        let mut c1 = RedactionCounts::default();
        let once = redact(input, &mut c1).into_owned();
        let mut c2 = RedactionCounts::default();
        let twice = redact(&once, &mut c2);
        assert!(matches!(twice, Cow::Borrowed(_)), "second pass changed {once:?} -> {twice:?} (input {input:?})");
        assert_eq!(c2.total(), 0, "input: {input:?}");
    }

    #[test]
    fn kind_names_and_order() {
        let names: Vec<_> = SecretKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "access_token",
                "refresh_token",
                "login_token",
                "password",
                "recovery_key",
                "authorization",
                "macaroon",
                "id_token",
                "authorization_code",
                "client_secret",
                "server_secret",
                "e2ee_secret"
            ]
        );
        for (i, k) in SecretKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    #[test]
    fn counts_api() {
        let mut a = RedactionCounts::default();
        assert_eq!(a.total(), 0);
        assert_eq!(a.iter().count(), 0);
        a.add(Password);
        a.add(Password);
        a.add(Macaroon);
        let mut b = RedactionCounts::default();
        b.add(Password);
        b.add(AccessToken);
        a.merge(&b);
        assert_eq!(a.get(Password), 3);
        assert_eq!(a.get(AccessToken), 1);
        assert_eq!(a.get(RefreshToken), 0);
        assert_eq!(a.total(), 5);
        assert_eq!(a.iter().collect::<Vec<_>>(), [(AccessToken, 1), (Password, 3), (Macaroon, 1)]);
        // Accumulates across calls.
        let mut c = RedactionCounts::default();
        let _ = redact("password=a", &mut c);
        let _ = redact("password=b token=c", &mut c);
        assert_eq!(c.get(Password), 2);
        assert_eq!(c.get(LoginToken), 1);
    }

    #[test]
    fn query_string_values() {
        let keys = [
            ("access_token", AccessToken),
            ("ACCESS_TOKEN", AccessToken),
            ("Access_Token", AccessToken),
            ("refresh_token", RefreshToken),
            ("login_token", LoginToken),
            ("loginToken", LoginToken),
            ("token", LoginToken),
            ("Token", LoginToken),
        ];
        let frames = [
            ("https://hs/x?", ""),
            ("https://hs/x?a=1&", "&b=2"),
            ("see (https://hs/?", ") ok"),
            ("<https://hs/?", ">"),
            ("[link](https://hs/?", ")"),
            ("[", "]"),
            ("\"https://hs/?", "\","),
            ("'?", "'"),
            ("?", "#frag"),
            ("?", ", next"),
            ("?", " trailing"),
            ("?", "\ttab"),
            ("?", "\nnext line"),
            ("?", ";path=/"),
            ("{\"url\":\"https://hs/?", "\\\"}"),
        ];
        let secret = "abcDEF123-_.~xyz%2Bé";
        for (key, kind) in keys {
            for (pre, post) in frames {
                assert_redacted(&format!("{pre}{key}={secret}{post}"), secret, kind);
            }
        }
        assert_redacted(&format!("x?access_token={SYT}&y"), SYT, AccessToken);
    }

    #[test]
    fn json_and_object_fields() {
        let p = "hunter2 with spaces é🙂";
        let cases = [
            (format!("{{\"access_token\": \"{p}\"}}"), AccessToken),
            (format!("{{\"access_token\":\"{p}\",\"device_id\":\"ABCDEF\"}}"), AccessToken),
            (format!("{{'refresh_token': '{p}'}}"), RefreshToken),
            (format!("password: \"{p}\""), Password),
            (format!("{{password: '{p}'}}"), Password),
            (format!("\"password\":\"{p}\""), Password),
            (format!("\"Password\" : \"{p}\""), Password),
            (format!("\"new_password\": \"{p}\""), Password),
            (format!("{{\"type\":\"m.login.token\",\"token\":\"{p}\"}}"), LoginToken),
            (format!("\"recovery_key\": \"{p}\""), RecoveryKey),
            (format!("\"passphrase\":\"{p}\""), Password),
            (format!("\"login_token\":\"{p}\""), LoginToken),
            (format!("createClient({{accessToken: '{p}'}})"), AccessToken),
            (format!("password = \"{p}\""), Password),
            (format!("login(password='{p}')"), Password),
            (format!("SessionTokens {{ access_token: \"{p}\", refresh_token: None }}"), AccessToken),
            (format!("SessionTokens {{ access_token: None, refresh_token: Some(\"{p}\") }}"), RefreshToken),
        ];
        for (input, kind) in &cases {
            assert_redacted(input, p, *kind);
        }
        // Escaped quote and trailing backslash stay inside the value.
        assert_redacted(r#"{"password":"a\"b c","x":1}"#, r#"a\"b c"#, Password);
        assert_redacted(r#"{"password":"ab\\","x":1}"#, r#"ab\\"#, Password);
        // Truncated value: redact to end of line, keep the next line.
        assert_redacted("{\"password\":\"hunter2 trunc\nnext", "hunter2 trunc", Password);
        assert_redacted("{\"password\":\"hunter2 trunc", "hunter2 trunc", Password);
        // A "value" that is really the next secret key is skipped, not redacted.
        assert_redacted(&format!("password= \"new_password\": \"{p}\""), p, Password);
        assert_redacted(&format!("token= 'refresh_token': '{p}'"), p, RefreshToken);
        // Recovery key inside its field counts once, as the field.
        assert_redacted(&format!("{{\"recovery_key\":\"{RK_GROUPED}\"}}"), RK_GROUPED, RecoveryKey);
    }

    #[test]
    fn escaped_json_fields() {
        assert_redacted(&format!(r#"body: "{{\"access_token\":\"{SYT}\",\"device_id\":\"DEV\"}}""#), SYT, AccessToken);
        assert_redacted(r#"\"password\": \"hunter2 x\""#, "hunter2 x", Password);
        // `\\\"` is a quote inside the escaped value.
        assert_redacted(r#"\"password\":\"a\\\"b c\"}"#, r#"a\\\"b c"#, Password);
        // Two levels of escaping.
        assert_redacted(r#"\\\"password\\\":\\\"hunter2\\\""#, "hunter2", Password);
        // The outer string ends first: stop there.
        assert_redacted(r#"\"token\":\"abc" rest"#, "abc", LoginToken);
    }

    #[test]
    fn authorization_and_bearer() {
        assert_redacted(&format!("Authorization: Bearer {SYT}"), SYT, Authorization);
        assert_redacted("authorization:bearer abc", "abc", Authorization);
        assert_redacted("AUTHORIZATION: BEARER abc.def-ghi~jk+l/m==\r\n", "abc.def-ghi~jk+l/m==", Authorization);
        assert_redacted("{\"Authorization\": \"Bearer tok123\"}", "tok123", Authorization);
        assert_redacted("{'Authorization': 'Bearer tok123'}", "tok123", Authorization);
        assert_redacted("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", Authorization);
        assert_redacted(&format!("-H 'Authorization: Bearer {MACAROON}'"), MACAROON, Authorization);
        assert_redacted(r#"{"Authorization":"Bearer syt_YS\/Yg_abcdEFGHijkl_0a1B2c"}"#, r"syt_YS\/Yg_abcdEFGHijkl_0a1B2c", Authorization);
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig123";
        assert_redacted(&format!("sending with Bearer {jwt} now"), jwt, Authorization);
        assert_redacted(&format!("BEARER {SYT}"), SYT, Authorization);
        assert_redacted("bearer abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz", Authorization);
        assert_redacted("Bearer\tab12cd34", "ab12cd34", Authorization);
    }

    #[test]
    fn bare_synapse_and_mas_tokens() {
        assert_redacted(&format!("token {SYT}."), SYT, AccessToken);
        assert_redacted(SYT, SYT, AccessToken);
        assert_redacted(&format!("got \"{SYR}\""), SYR, RefreshToken);
        assert_redacted(&format!("sso redirect ({SYL})"), SYL, LoginToken);
        assert_redacted("k=syt_YS+/Yg_abcdefghijklmnopqrst_012abc;", "syt_YS+/Yg_abcdefghijklmnopqrst_012abc", AccessToken);
        assert_redacted(r"x syt_YS\/Yg_abcdefghijklmnopqrst_012abc\n", r"syt_YS\/Yg_abcdefghijklmnopqrst_012abc", AccessToken);
        assert_redacted(&format!("é{SYT}🙂"), SYT, AccessToken);
        let mat = "mat_abcdefghijABCDEFGHIJ0123456789_0a1B2c";
        let mar = "mar_abcdefghijABCDEFGHIJ0123456789_0a1B2c";
        let mct = "mct_abcdefghijABCDEFGHIJ0123456789_0a1B2c";
        assert_redacted(&format!("t={mat}"), mat, AccessToken);
        assert_redacted(&format!("t {mar}"), mar, RefreshToken);
        assert_redacted(&format!("t {mct}"), mct, AccessToken);
    }

    #[test]
    fn macaroons() {
        assert_redacted(&format!("old token {MACAROON} used"), MACAROON, Macaroon);
        let padded = "MDAxOGxvY2F0aW9uIGxvY2FsaG9zdAowMDEzaWRlbnRpZmllciBr==";
        assert_redacted(&format!("[{padded}]"), padded, Macaroon);
        assert_redacted(&format!("access_token={MACAROON}&x"), MACAROON, AccessToken);
    }

    #[test]
    fn recovery_keys() {
        assert_redacted(&format!("Your recovery key is {RK_GROUPED}. Keep it safe."), RK_GROUPED, RecoveryKey);
        assert_redacted(&format!("key:{RK_PLAIN}\n"), RK_PLAIN, RecoveryKey);
        assert_redacted(RK_GROUPED, RK_GROUPED, RecoveryKey);
        assert_redacted(RK_PLAIN, RK_PLAIN, RecoveryKey);
        // Truncated but still 8+ groups.
        let truncated = "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ";
        assert_redacted(&format!("{truncated}…"), truncated, RecoveryKey);
        // 13th group left alone.
        assert_redacted(&format!("{RK_GROUPED} then"), RK_GROUPED, RecoveryKey);
    }

    #[test]
    fn realistic_lines() {
        let mut c = RedactionCounts::default();
        let line = format!("FetchHttpApi: --> GET https://hs/_matrix/client/v3/sync?filter=0&access_token={SYT}&timeout=30000");
        assert_eq!(
            redact(&line, &mut c),
            "FetchHttpApi: --> GET https://hs/_matrix/client/v3/sync?filter=0&access_token=[REDACTED:access_token]&timeout=30000"
        );
        let line = r#"{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"hunter2 with spaces"}"#;
        assert_eq!(
            redact(line, &mut c),
            r#"{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"[REDACTED:password]"}"#
        );
        let line = format!("Authorization: Bearer {SYT}");
        assert_eq!(redact(&line, &mut c), "Authorization: Bearer [REDACTED:authorization]");
        let line = format!(r#"{{"access_token":"{SYT}","refresh_token":"{SYR}","device_id":"ABCDEF"}}"#);
        assert_eq!(
            redact(&line, &mut c),
            r#"{"access_token":"[REDACTED:access_token]","refresh_token":"[REDACTED:refresh_token]","device_id":"ABCDEF"}"#
        );
        assert_eq!(c.iter().collect::<Vec<_>>(), [(AccessToken, 2), (RefreshToken, 1), (Password, 1), (Authorization, 1)]);
        let line = format!("2024-05-01T10:00:00Z WARN matrix_sdk::http_client: POST /login {{\"type\":\"m.login.token\",\"token\":\"{SYL}\",\"initial_device_display_name\":\"Element\"}} failed: M_FORBIDDEN");
        assert_eq!(
            redact(&line, &mut c),
            "2024-05-01T10:00:00Z WARN matrix_sdk::http_client: POST /login {\"type\":\"m.login.token\",\"token\":\"[REDACTED:login_token]\",\"initial_device_display_name\":\"Element\"} failed: M_FORBIDDEN"
        );
    }

    const NEGATIVES: &[&str] = &[
        "@alice:example.org",
        "device ABCDEFGHIJ logged in",
        "$abcDEF123_-xyz:example.org",
        "$Xw7eKxqfT8xQ-Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4",
        "!abc:server",
        "signed_curve25519:AAAAAAAAAA0",
        CURVE,
        "curve25519:Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4 ed25519:EsXw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkk",
        "EsXw7eKxqfT8xQYk7gWoo1r9wQtH6D6yYxGX3GMkkHi4",
        "https://matrix.example.org/_matrix/client/v3/keys/upload?timeout=30000&filter=0",
        "https://hs/_matrix/client/v3/login/token",
        OTK_ERROR,
        "the token was rejected",
        "M_UNKNOWN_TOKEN: Invalid access token passed.",
        "token: expired",
        "if (token == null) return;",
        "let token = None;",
        "Token::new()",
        "{\"type\":\"m.login.password\"}",
        "{\"type\":\"m.login.token\"}",
        "\"passphrase\": {\"algorithm\": \"m.pbkdf2\", \"salt\": \"abc\", \"iterations\": 500000}",
        "\"password\": \"\"",
        "\"password\": null",
        "password=",
        "Bearer tokens are required",
        "the Bearer authentication failed",
        "WWW-Authenticate: Bearer realm=\"matrix\", error=\"invalid_token\"",
        "Authorization: X-Matrix origin=\"a.org\",destination=\"b.org\",key=\"ed25519:abc\",sig=\"ZmFrZXNpZw\"",
        "Authorization: Bearer",
        "Authorization header missing",
        "mat_infantil_2022",
        "syt_abc",
        "xsyt_YWxpY2U_abcdEFGHijkl_0a1B2c",
        "Syt_YWxpY2U_abcdEFGHijkl_0a1B2c",
        "MDAxshort",
        "abc+MDAxOGxvY2F0aW9uIGxvY2FsaG9zdAowMDEzaWRlbnRpZmllciBrZXkK",
        "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk",
        "Esta casa tiene seis",
        "next_batch=s72594_4483_1934&since=abc",
        "access_token",
        "[REDACTED:password]",
        "password=[REDACTED:password]&x=1",
        "\"access_token\":\"[REDACTED:access_token]\"",
        "Bearer [REDACTED:authorization]",
        "[REDACTED:unknown_kind",
        "",
        "é🙂\u{0}",
    ];

    #[test]
    fn negatives_survive_borrowed() {
        for n in NEGATIVES {
            assert_unchanged(n);
        }
        assert_unchanged(&NEGATIVES.join("\n"));
    }

    #[test]
    fn idempotent_on_corpus() {
        let positives = [
            format!("x?access_token={SYT}&refresh_token={SYR}&loginToken={SYL}"),
            format!("Authorization: Bearer {SYT}\n{{'password': 'a b'}} {RK_GROUPED} {RK_PLAIN} {MACAROON}"),
            format!(r#"\"access_token\":\"{SYT}\" token={SYL}) Bearer {SYT}"#),
            format!("{{\"password\":\"unterminated {SYT}"),
            format!("{SYT}{SYR} {MACAROON}{SYT} {RK_PLAIN}syt_abcdefghij"),
            format!("{MACAROON}=={SYT} password={SYT}password={SYL}"),
        ];
        for p in positives.iter().map(String::as_str).chain(NEGATIVES.iter().copied()) {
            assert_idempotent(p);
        }
    }

    /// xorshift64: deterministic, dependency-free.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
            &xs[self.below(xs.len())]
        }
        fn pick_str(&mut self, xs: &[&'static str]) -> &'static str {
            xs[self.below(xs.len())]
        }
        fn ascii(&mut self, alphabet: &[u8], len: usize) -> String {
            (0..len).map(|_| *self.pick(alphabet) as char).collect()
        }
    }

    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const B58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    fn syn_token(rng: &mut Rng, prefix: &str) -> String {
        let n = 4 + rng.below(10);
        let local = rng.ascii(B64, n);
        let random = rng.ascii(LETTERS, 20);
        let crc = rng.ascii(ALNUM, 6);
        if prefix == "syl" {
            format!("syl_{random}_{crc}")
        } else {
            format!("{prefix}_{local}_{random}_{crc}")
        }
    }

    fn any_token(rng: &mut Rng) -> String {
        match rng.below(3) {
            0 => syn_token(rng, "syt"),
            1 => format!("{}{}", rng.ascii(b"0123456789", 1), rng.ascii(ALNUM, 24)),
            _ => format!("MDAx{}", rng.ascii(B64URL, 60)),
        }
    }

    fn password(rng: &mut Rng) -> String {
        const CHARS: &[&str] = &["a", "Z", "9", " ", "!", "@", "$", "%", "^", "*", "(", ")", "-", "_", "é", "🙂", "日", "=", "&", ":", "{"];
        let mut p = String::from("pw");
        for _ in 0..10 + rng.below(10) {
            p.push_str(rng.pick_str(CHARS));
        }
        p.push('X');
        p
    }

    fn recovery_key(rng: &mut Rng) -> String {
        format!("Es{}", rng.ascii(B58, 46))
    }

    fn grouped(key: &str) -> String {
        key.as_bytes().chunks(4).map(|c| core::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
    }

    /// A fragment containing secrets, and the secrets that must vanish.
    fn plant(rng: &mut Rng) -> (String, String) {
        let t = any_token(rng);
        let p = password(rng);
        match rng.below(26) {
            0 => (format!("GET https://hs/_matrix/client/v3/sync?filter=0&access_token={t}&timeout=30000"), t),
            1 => (format!("?refresh_token={t}&x=1"), t),
            2 => (format!("https://app.element.io/?loginToken={t}#/home"), t),
            3 => (format!("login_token={t}"), t),
            4 => (format!("(https://hs/sso?token={t})"), t),
            5 => (format!("{{\"access_token\":\"{t}\",\"device_id\":\"ABCDEF\"}}"), t),
            6 => (format!("{{'refresh_token': '{t}'}}"), t),
            7 => (format!("password: \"{p}\""), p),
            8 => (format!("{{\"password\":\"{p}\"}}"), p),
            9 => (format!("\"new_password\": \"{p}\""), p),
            10 => (format!("{{\"type\":\"m.login.token\",\"token\":\"{t}\"}}"), t),
            11 => {
                let r = grouped(&recovery_key(rng));
                (format!("\"recovery_key\": \"{r}\""), r)
            }
            12 => (format!("\"passphrase\":\"{p}\""), p),
            13 => (format!("\"login_token\":\"{t}\""), t),
            14 => (format!(r#"{{\"access_token\":\"{t}\"}}"#), t),
            15 => (format!("Authorization: Bearer {t}"), t),
            16 => (format!("Bearer {t}"), t),
            17 => {
                let s = syn_token(rng, "syt");
                (s.clone(), s)
            }
            18 => {
                let s = syn_token(rng, "syr");
                (format!("refresh with {s}"), s)
            }
            19 => {
                let s = syn_token(rng, "syl");
                (format!("[{s}]"), s)
            }
            20 => {
                let n = 36 + rng.below(100);
                let m = format!("MDAx{}", rng.ascii(B64URL, n));
                (m.clone(), m)
            }
            21 => {
                let r = grouped(&recovery_key(rng));
                (format!("Recovery key: {r}"), r)
            }
            22 => {
                let r = recovery_key(rng);
                (r.clone(), r)
            }
            23 => {
                let m = format!("{}_{}_{}", rng.pick(&["mat", "mar", "mct", "mcr"]), rng.ascii(ALNUM, 30), rng.ascii(ALNUM, 6));
                (m.clone(), m)
            }
            24 => {
                let b = rng.ascii(B64, 20);
                (format!("{{\"Authorization\": \"Basic {b}\"}}"), b)
            }
            _ => (format!("password='{p}'"), p),
        }
    }

    fn noise(rng: &mut Rng) -> String {
        const POOL: &[&str] = &[
            "a", "Z", "7", "_", "-", " ", "\"", "'", "\\", ":", "=", "&", "?", "[", "]", "{", "}", "(", ")", "/", "+", ".", ",", "#", "\n",
            "\r", "\t", "é", "🙂", "日", "\u{0}", "\u{7f}", "\u{feff}", "Es", "MDAx",
        ];
        let mut s = String::new();
        for _ in 0..rng.below(24) {
            if rng.below(8) == 0 {
                // Any scalar value.
                if let Some(c) = char::from_u32(rng.below(0x11_0000) as u32) {
                    s.push(c);
                }
            } else {
                s.push_str(rng.pick_str(POOL));
            }
        }
        s
    }

    /// Negatives that are a key (or key prefix) away from a match: they rightly
    /// eat what follows on their line, and noise before them can complete them.
    const OPEN_ENDED: &[&str] = &[
        "password=",
        "access_token",
        "https://hs/_matrix/client/v3/login/token",
        "Authorization: Bearer",
        "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk",
    ];

    #[test]
    fn fuzz_mixed_fragments() {
        const SEPS: &[&str] = &[" ", "\n", " é ", "🙂 ", "\t", ", ", "\u{0}", "; ", "\r\n"];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for iter in 0..25_000 {
            let mut input = String::new();
            let mut secrets = Vec::new();
            let mut kept = Vec::new();
            for part in 0..1 + rng.below(6) {
                if part > 0 {
                    input.push_str(rng.pick_str(SEPS));
                }
                match rng.below(10) {
                    0..=4 => {
                        let (frag, secret) = plant(&mut rng);
                        input.push_str(&frag);
                        secrets.push(secret);
                    }
                    5..=6 => {
                        let n = *rng.pick(NEGATIVES);
                        input.push_str(n);
                        if OPEN_ENDED.contains(&n) {
                            input.push('\n');
                        } else {
                            kept.push(n);
                        }
                    }
                    _ => input.push_str(&noise(&mut rng)),
                }
            }
            let mut c = RedactionCounts::default();
            let out = redact(&input, &mut c).into_owned();
            for s in &secrets {
                assert!(!out.contains(s.as_str()), "iter {iter}: secret {s:?} survived in {out:?}");
            }
            for k in &kept {
                assert!(out.contains(k), "iter {iter}: {k:?} lost in {out:?} (input {input:?})");
            }
            assert!(c.total() as usize >= secrets.len().min(1));
            let mut c2 = RedactionCounts::default();
            let again = redact(&out, &mut c2);
            assert!(matches!(again, Cow::Borrowed(_)), "iter {iter}: not idempotent: {input:?}");
            assert_eq!(c2.total(), 0);
        }
    }

    #[test]
    fn fuzz_random_bytes_and_truncation() {
        const BYTES: &[u8] =
            b"\"'\\:= &?[]{}()/+._-\n\t#,;<>EsMDAxsyt_token_passwordBearer Authorization: 19aZ\xc3\xa9\xf0\x9f\x99\x82\x00\xff";
        let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
        for _ in 0..20_000 {
            let len = rng.below(80);
            let bytes: Vec<u8> = (0..len).map(|_| *rng.pick(BYTES)).collect();
            let s = String::from_utf8_lossy(&bytes);
            assert_idempotent(&s);
        }
        // Every prefix of secret-bearing lines: truncated tokens must not panic.
        let lines = [
            format!("{{\"access_token\":\"{SYT}\",\"password\":\"a\\\"b\"}} Authorization: Bearer {SYR}"),
            format!("{RK_GROUPED} {MACAROON} \\\\\\\"password\\\\\\\":\\\\\\\"x\\\\\\\" é🙂"),
        ];
        for line in &lines {
            for (i, _) in line.char_indices() {
                assert_idempotent(&line[..i]);
            }
        }
    }

    #[test]
    fn one_mib_inputs_complete() {
        let line = format!("GET https://hs/?access_token={SYT}&x=1 {{\"password\":\"p w\"}} {OTK_ERROR} é🙂\n");
        let big = line.repeat((1 << 20) / line.len() + 1);
        let mut c = RedactionCounts::default();
        let out = redact(&big, &mut c);
        assert!(!out.contains(SYT));
        assert_eq!(c.get(AccessToken), c.get(Password));
        // Clean text at scale takes the no-allocation path.
        let block = NEGATIVES.join("\n") + "\n";
        let clean = block.repeat((1 << 20) / block.len() + 1);
        assert_unchanged(&clean);
        // Pathological shapes: long runs that almost match.
        let patterns = [
            "a".repeat(1 << 20),
            "Es".repeat(1 << 19),
            "\\".repeat(1 << 20),
            format!("\"password\":\"{}", "x".repeat(1 << 20)),
            format!("password:{}x", " ".repeat(1 << 20)),
            "token=".repeat(1 << 17),
            "Bearer ".repeat(1 << 17),
            "syt_".repeat(1 << 18),
            "MDAx-".repeat(1 << 18),
            "EsTc ".repeat(1 << 18),
            "[REDACTED:".repeat(1 << 17),
            format!("\"password\":{}\"x\"", "\\".repeat(1 << 20)),
        ];
        for p in &patterns {
            let mut c = RedactionCounts::default();
            let _ = redact(p, &mut c);
        }
    }

    // ---- issue 16: secret classes the scanner used to miss, and over-redaction.

    /// `input` with exactly these secrets replaced (in order) by `kinds` markers.
    #[track_caller]
    fn assert_redacts_all(input: &str, secrets: &[(&str, SecretKind)]) -> String {
        let mut c = RedactionCounts::default();
        let out = redact(input, &mut c).into_owned();
        let mut want = input.to_owned();
        for (s, k) in secrets {
            assert!(want.contains(s), "bad test input: {input}");
            want = want.replacen(s, &marker(*k), 1);
        }
        assert_eq!(out, want, "input: {input}");
        assert_eq!(c.total() as usize, secrets.len(), "input: {input}");
        assert_idempotent(input);
        out
    }

    #[track_caller]
    fn assert_json(s: &str) {
        assert!(serde_json::from_str::<serde_json::Value>(s).is_ok(), "not JSON: {s}");
    }

    #[test]
    fn keys_glued_to_an_escape() {
        let out = assert_redacts_all(r#"{"msg":"login failed\npassword=hunter2 correct"}"#, &[("hunter2", Password)]);
        assert_json(&out);
        assert_redacted(r#"{"m":"a\tpassword: \"pw x\""}"#, r#"pw x"#, Password);
        assert_redacted(r#""caf\u00e9access_token=tok123abc&x""#, "tok123abc", AccessToken);
        assert_redacted(&format!(r#""\n{SYT}""#), SYT, AccessToken);
        assert_redacted(&format!(r#""\r\n{RK_GROUPED}""#), RK_GROUPED, RecoveryKey);
        assert_redacted(r"b'\xe9password=hunter2'", "hunter2", Password);
        assert_redacted(r#"{"a":"x\tsecret=c2VjcmV0"}"#, "c2VjcmV0", E2eeSecret);
    }

    #[test]
    fn url_encoded_and_double_encoded() {
        assert_redacted("https://hs/x?access%5Ftoken=tok123abc&x=1", "tok123abc", AccessToken);
        assert_redacted("https://hs/x?access%255Ftoken=tok123abc&x=1", "tok123abc", AccessToken);
        assert_redacted("redirect=https%3A%2F%2Fhs%2Fx%3Faccess_token%3Dtok123abc%26x%3D1", "tok123abc", AccessToken);
        assert_redacted("next=https%253A%252F%252Fhs%252Fx%253Faccess_token%253Dtok123abc%2526x%253D1", "tok123abc", AccessToken);
        assert_redacted("h=Authorization%3A%20Bearer%20tok123abc%0D%0A", "tok123abc", Authorization);
        assert_redacted("h=Authorization%253A%2520Bearer%2520tok%2B1%2F2%3D%3D&x", "tok%2B1%2F2%3D%3D", Authorization);
        assert_redacted("body=%7B%22password%22%3A%22hunter2%22%7D", "hunter2", Password);
        assert_redacted("%26password%3Dhunter2%26x", "hunter2", Password);
    }

    #[test]
    fn python_bytes_repr() {
        assert_redacted("{b'password': b'hunter2 x', b'user': b'alice'}", "hunter2 x", Password);
        assert_redacted(r#"{b'password': b"it's"}"#, "it's", Password);
        assert_redacted("Headers({b'Authorization': [b'Bearer tok123abc'], b'Host': [b'hs']})", "tok123abc", Authorization);
        assert_redacted(&format!("{{b'access_token': b'{SYT}'}}"), SYT, AccessToken);
        assert_redacted(r#"b'{"password": "hunter2"}'"#, "hunter2", Password);
    }

    /// base58 of 0x8B 0x01, 32 bytes, parity: a key that decodes.
    fn valid_key(seed: u8) -> String {
        const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        let mut bytes = vec![0x8B, 0x01];
        bytes.extend((0..32).map(|i: u8| i.wrapping_mul(37).wrapping_add(seed)));
        bytes.push(bytes.iter().fold(0, |a, b| a ^ b));
        let mut digits: Vec<u8> = Vec::new(); // little-endian base58
        for &byte in &bytes {
            let mut carry = u32::from(byte);
            for d in digits.iter_mut() {
                let v = u32::from(*d) * 256 + carry;
                *d = (v % 58) as u8;
                carry = v / 58;
            }
            while carry > 0 {
                digits.push((carry % 58) as u8);
                carry /= 58;
            }
        }
        digits.iter().rev().map(|&d| ALPHABET[d as usize] as char).collect()
    }

    #[test]
    fn recovery_key_spellings() {
        let doubled = RK_GROUPED.replace(' ', "  ");
        assert_redacted(&format!("key {doubled} ok"), &doubled, RecoveryKey);
        let dashed = RK_GROUPED.replace(' ', "-");
        assert_redacted(&format!("key {dashed} ok"), &dashed, RecoveryKey);
        let (a, z) = RK_GROUPED.split_at(29);
        for brk in ["\n", "\r\n", "\\n", " \n  "] {
            let wrapped = format!("{}{brk}{}", a.trim_end(), z);
            assert_redacted(&format!("Recovery key: {wrapped}\nnext"), &wrapped, RecoveryKey);
        }
        for seed in [1u8, 77, 200] {
            let k = valid_key(seed);
            assert_eq!((k.len(), &k[..2]), (48, "Es"), "{k}");
            let wrapped = format!("{}\n{}", &k[..30], &k[30..]);
            assert_redacted(&format!("key:\n{wrapped}\n"), &wrapped, RecoveryKey);
        }
        // Seven groups, a break, and prose: not a key; nor two base58 words
        // that only add up to 48 characters.
        assert_unchanged("EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk\nEsta casa tiene seis");
        assert_unchanged("EsXw7eKxqfT8xQYk7gWoo1r9wQtH6D6yYxGX3GMkkHi4\r\nxsyt");
    }

    #[test]
    fn short_bearer_and_header_tokens() {
        assert_redacted("retry with Bearer abc123", "abc123", Authorization);
        assert_redacted("Bearer tok-1.", "tok-1", Authorization);
        assert_redacted("Bearer AbCdEfGh", "AbCdEfGh", Authorization);
        assert_redacted("Authorization: Bearer x", "x", Authorization);
        assert_redacted("X-Access-Token: tok123", "tok123", AccessToken);
        assert_unchanged("Bearer auth is used; Bearer ... Bearer realm=\"x\"");
    }

    #[test]
    fn yaml_ini_and_numbers() {
        assert_redacted("password: hunter2 with spaces\nuser: bob", "hunter2 with spaces", Password);
        assert_redacted("password = hunter2\n", "hunter2", Password);
        assert_redacted("  registration_shared_secret: 'Zk3qP9xV'", "Zk3qP9xV", ServerSecret);
        assert_redacted("macaroon_secret_key: Zk3qP9xVb2Lm\r\n", "Zk3qP9xVb2Lm", ServerSecret);
        assert_redacted("form_secret = \"Zk3q P9xV\"", "Zk3q P9xV", ServerSecret);
        assert_redacted("as_token: Zk3qP9xVb2LmN7sT4wRy", "Zk3qP9xVb2LmN7sT4wRy", ServerSecret);
        assert_redacted("hs_token: \"Zk3qP9xVb2LmN7sT4wRy\"", "Zk3qP9xVb2LmN7sT4wRy", ServerSecret);
        assert_redacted("password:hunter2", "hunter2", Password);
        // A bare JSON number becomes a quoted marker: the line stays JSON.
        let mut c = RedactionCounts::default();
        assert_eq!(redact(r#"{"password": 123456, "x": 1}"#, &mut c), r#"{"password": "[REDACTED:password]", "x": 1}"#);
        assert_eq!(redact(r#"{"password":-42.5e3}"#, &mut c), r#"{"password":"[REDACTED:password]"}"#);
        assert_eq!(redact(r#"{\"password\":7}"#, &mut c), r#"{\"password\":\"[REDACTED:password]\"}"#);
        assert_eq!(redact("{'password': 1234}", &mut c), "{'password': '[REDACTED:password]'}");
        assert_eq!(c.get(Password), 4);
        for n in [
            "password: null",
            "password: None,",
            "\"password\": true",
            "password: {",
            "token: expired",
            "secret: rotated",
            "pickle: failed",
        ] {
            assert_unchanged(n);
        }
    }

    #[test]
    fn oidc_server_and_e2ee_kinds() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
        assert_redacted(&format!("id_token={jwt}&state=x"), jwt, IdToken);
        assert_redacted(&format!("{{\"id_token\": \"{jwt}\"}}"), jwt, IdToken);
        assert_redacted(&format!("got {jwt} back"), jwt, IdToken);
        assert_redacted("https://app/cb?state=abc&code=Zk3qP9xVb2Lm&x=1", "Zk3qP9xVb2Lm", AuthorizationCode);
        assert_redacted("https://app/cb?code=Zk3qP9xVb2Lm", "Zk3qP9xVb2Lm", AuthorizationCode);
        assert_redacted("grant_type=authorization_code&code=Zk3qP9&redirect_uri=x", "Zk3qP9", AuthorizationCode);
        assert_redacted("cb%3Fcode%3DZk3qP9%26state", "Zk3qP9", AuthorizationCode);
        assert_redacted("client_secret=Zk3qP9xV&client_id=x", "Zk3qP9xV", ClientSecret);
        assert_redacted("{\"clientSecret\": \"Zk3qP9xV\"}", "Zk3qP9xV", ClientSecret);
        assert_redacted(
            r#"{"type":"m.secret.send","content":{"request_id":"r1","secret":"c2VjcmV0IGtleSBtYXRlcmlhbA"}}"#,
            "c2VjcmV0IGtleSBtYXRlcmlhbA",
            E2eeSecret,
        );
        assert_redacted(r#"{"private_key":"c2VjcmV0"}"#, "c2VjcmV0", E2eeSecret);
        assert_redacted(
            r#"{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!r:hs","session_id":"SID","session_key":"AgAAAAAQcQ6X"}"#,
            "AgAAAAAQcQ6X",
            E2eeSecret,
        );
        assert_redacted("initRustCrypto({pickleKey: 'Zk3qP9xV'})", "Zk3qP9xV", E2eeSecret);
        assert_redacted("{\"pickle\":\"Zk3qP9xVb2Lm\"}", "Zk3qP9xVb2Lm", E2eeSecret);
        assert_redacted("decryption_key: Zk3qP9xVb2Lm", "Zk3qP9xVb2Lm", E2eeSecret);
        assert_eq!(field_kind("accessToken"), Some(AccessToken));
        assert_eq!(field_kind("client_secret"), Some(ClientSecret));
        assert_eq!(field_kind("session_key"), Some(E2eeSecret));
        assert_eq!(field_kind("session_id"), None);
        assert_eq!(field_kind("key"), None);
    }

    #[test]
    fn identifiers_keep_their_localpart() {
        for id in [
            "@syt_notifications:example.org",
            "#syl_lounge_chat:example.org",
            "invite @syr_someone_else_here:example.org to !syt_roomroomroom:example.org",
            "https://hs/_matrix/client/v3/rooms/!r:hs/messages?from=t47409-4357353_219380_26003_2265&dir=b",
            "token=t47409-4357353_219380_26003_2265",
            "\"token\": \"s72594_4483_1934\"",
            "exit code=1",
            "{\"errcode\":\"M_FORBIDDEN\",\"code\":403}",
            "\"session_id\":\"SID\",\"sender_key\":\"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4\"",
        ] {
            assert_unchanged(id);
        }
        // A real token after a sigil-free space is still a token.
        assert_redacted(&format!("@alice:example.org {SYT}"), SYT, AccessToken);
    }

    #[test]
    fn json_line_in_json_line_out() {
        let cases = [
            r#"{"msg": "user's password: 'hunter2", "level": "INFO"}"#,
            r#"{"msg": "password: hunter2 and more", "level": "INFO"}"#,
            r#"{"msg": "config password = a\"b", "level": "INFO"}"#,
            r#"{"msg": "token='abc", "level": "INFO", "password": 12}"#,
            r#"{"msg": "login failed\npassword=hunter2 correct", "n": 1}"#,
            r#"{"m": "Authorization: Bearer abc123\\", "level": "INFO"}"#,
            r#"{"m": "{\"password\": \"x\\\"y\", \"k\": 1}", "level": "INFO"}"#,
            r#"{"m": "recovery key EsTc LW2K PGiF wKEA 3As5 g5c4\nBXwk qeeJ ZJV8 Q9fu gUMN UE4d", "l": 1}"#,
            r#"[{"password":"a"},{"secret":"b","x":"password: c"}]"#,
        ];
        for line in cases {
            assert_json(line);
            let mut c = RedactionCounts::default();
            let out = redact(line, &mut c);
            assert!(c.total() >= 1, "nothing redacted in {line}");
            assert_json(&out);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            if let Some(level) = v.get("level") {
                assert_eq!(level, "INFO", "{out}");
            }
            assert_idempotent(line);
        }
    }
}
