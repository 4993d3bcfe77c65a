//! Secret redaction for logs and reports before they are shown or shared.
//!
//! A single forward byte scan, no regex (wasm size budget). Every match
//! starts and ends on an ASCII byte, so slicing can never split a UTF-8
//! character. Text with nothing to redact is returned borrowed, unallocated.
//!
//! Keys and prefixes are kept so lines stay readable; only values go:
//! `access_token=[REDACTED:access_token]&timeout=30000`.

use std::borrow::Cow;

/// What kind of secret was removed; used as report keys (serde-free: see `as_str()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    AccessToken,
    RefreshToken,
    LoginToken,
    Password,
    RecoveryKey,
    Authorization,
    Macaroon,
}

impl SecretKind {
    pub const ALL: [SecretKind; 7] = [
        SecretKind::AccessToken,
        SecretKind::RefreshToken,
        SecretKind::LoginToken,
        SecretKind::Password,
        SecretKind::RecoveryKey,
        SecretKind::Authorization,
        SecretKind::Macaroon,
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
        }
    }
}

/// Per-kind counts, accumulated across calls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedactionCounts {
    counts: [u32; 7],
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
        SecretKind::ALL
            .iter()
            .map(move |&k| (k, self.get(k)))
            .filter(|&(_, n)| n > 0)
    }
}

const MARKER_PREFIX: &[u8] = b"[REDACTED:";

/// Deepest `\"`-escaping we follow (JSON inside JSON inside ...); deeper is garbage.
const MAX_ESCAPE_LEVELS: u32 = 8;

/// Field names whose string value is a secret (compared ASCII-case-insensitively,
/// so camelCase `accessToken` / `loginToken` hit the no-underscore spellings).
const FIELDS: [(&[u8], SecretKind); 13] = [
    (b"access_token", SecretKind::AccessToken),
    (b"accesstoken", SecretKind::AccessToken),
    (b"refresh_token", SecretKind::RefreshToken),
    (b"refreshtoken", SecretKind::RefreshToken),
    (b"login_token", SecretKind::LoginToken),
    (b"logintoken", SecretKind::LoginToken),
    // m.login.token bodies and `?token=` links carry login tokens.
    (b"token", SecretKind::LoginToken),
    (b"password", SecretKind::Password),
    (b"new_password", SecretKind::Password),
    (b"newpassword", SecretKind::Password),
    // Same kind as `report::secret_key`, so both paths count it alike.
    (b"passphrase", SecretKind::Password),
    (b"recovery_key", SecretKind::RecoveryKey),
    (b"recoverykey", SecretKind::RecoveryKey),
];

enum Hit {
    /// Replace `start..end` with a marker, continue at `end`.
    Redact {
        start: usize,
        end: usize,
        kind: SecretKind,
    },
    /// Value is already a marker; continue after it without counting.
    Skip(usize),
}

/// Replace every secret with `[REDACTED:<kind>]`, counting each replacement.
pub fn redact<'a>(input: &'a str, counts: &mut RedactionCounts) -> Cow<'a, str> {
    let b = input.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    // A match starting exactly here follows a marker (`]`) on a second pass;
    // treat it as a boundary now too so redaction is idempotent.
    let mut last_end = usize::MAX;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if is_word(c) {
            // Matchers only run at word starts: linear, and gives `\b` for free.
            let wend = run(b, i, is_word);
            match match_word(b, i, wend, i == last_end) {
                Some(Hit::Redact { start, end, kind }) => {
                    let s = out.get_or_insert_with(|| String::with_capacity(input.len()));
                    s.push_str(input.get(copied..start).unwrap_or_default());
                    s.push_str("[REDACTED:");
                    s.push_str(kind.as_str());
                    s.push(']');
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
            s.push_str(input.get(copied..input.len()).unwrap_or_default());
            Cow::Owned(s)
        }
        None => Cow::Borrowed(input),
    }
}

fn match_word(b: &[u8], i: usize, wend: usize, after_marker: bool) -> Option<Hit> {
    let word = &b[i..wend];
    let prev = if i == 0 || after_marker {
        b' '
    } else {
        b[i - 1]
    };

    if let Some(kind) = field_kind(word) {
        if let Some(hit) = match_field(b, wend, kind) {
            return Some(hit);
        }
    }
    if word.eq_ignore_ascii_case(b"authorization") {
        return match_authorization(b, wend);
    }
    if word.eq_ignore_ascii_case(b"bearer") {
        return match_bearer(b, wend);
    }
    if word.len() >= 4 && word[3] == b'_' {
        if let Some(kind) = synapse_prefix(&word[..3]) {
            return match_synapse(b, i, kind);
        }
        if let Some(kind) = mas_prefix(&word[..3]) {
            return match_mas(word, i, wend, kind);
        }
    }
    // Inside a longer base64 blob is not a token start.
    if word.starts_with(b"MDAx") && !matches!(prev, b'+' | b'/' | b'-') {
        return match_macaroon(b, i);
    }
    if word.starts_with(b"Es") && !matches!(prev, b'+' | b'/') {
        return match_recovery(b, i);
    }
    None
}

fn field_kind(w: &[u8]) -> Option<SecretKind> {
    if !(5..=13).contains(&w.len()) {
        return None;
    }
    FIELDS
        .iter()
        .find(|(k, _)| w.eq_ignore_ascii_case(k))
        .map(|&(_, kind)| kind)
}

/// `key=value`, `key: "value"`, `"key":"value"`, `'key': 'value'`, `\"key\":\"value\"`.
fn match_field(b: &[u8], wend: usize, kind: SecretKind) -> Option<Hit> {
    let mut k = skip_quote(b, wend);
    k = skip_hspace(b, k);
    let sep = *b.get(k)?;
    if sep != b':' && sep != b'=' {
        // Prose ("the token was rejected") lands here.
        return None;
    }
    k += 1;
    if sep == b'=' && b.get(k) == Some(&b'=') {
        // `token == x` is a comparison, not an assignment.
        return None;
    }
    let after_sep = k;
    k = skip_hspace(b, k);
    // Rust `Debug` of an `Option<String>` field (matrix-rust-sdk logs).
    if b[k..].starts_with(b"Some(") {
        k += 5;
    }
    if let Some((q, qc, levels)) = open_quote(b, k) {
        return quoted_value(b, q + 1, qc, levels, kind);
    }
    // Unquoted only for query-string shape; `key: word` is too often prose.
    if sep == b'=' && k == after_sep {
        return bare_value(b, k, kind);
    }
    None
}

/// `Authorization: <scheme> <credentials>` (header, JSON or Python dict).
fn match_authorization(b: &[u8], wend: usize) -> Option<Hit> {
    let mut k = skip_quote(b, wend);
    k = skip_hspace(b, k);
    if !matches!(b.get(k), Some(b':' | b'=')) {
        return None;
    }
    k = skip_hspace(b, k + 1);
    if let Some((q, _, _)) = open_quote(b, k) {
        k = q + 1;
    }
    let scheme_end = run(b, k, |c| c.is_ascii_alphabetic());
    let scheme = &b[k..scheme_end];
    // X-Matrix carries only public signatures; unknown schemes are left alone.
    if !(scheme.eq_ignore_ascii_case(b"bearer")
        || scheme.eq_ignore_ascii_case(b"basic")
        || scheme.eq_ignore_ascii_case(b"token"))
    {
        return None;
    }
    let start = skip_hspace(b, scheme_end);
    if start == scheme_end {
        return None;
    }
    let end = credentials_end(b, start);
    (end > start).then_some(Hit::Redact {
        start,
        end,
        kind: SecretKind::Authorization,
    })
}

/// `Bearer <tok>` outside a header; the value must look like a token so
/// prose ("Bearer tokens are required") survives.
fn match_bearer(b: &[u8], wend: usize) -> Option<Hit> {
    let start = skip_hspace(b, wend);
    if start == wend {
        return None;
    }
    let end = credentials_end(b, start);
    let tok = &b[start..end];
    let token_like =
        tok.len() >= 24 || (tok.len() >= 8 && tok.iter().any(|c| !c.is_ascii_alphabetic()));
    token_like.then_some(Hit::Redact {
        start,
        end,
        kind: SecretKind::Authorization,
    })
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
    let mut end = token_run(b, body, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'+' | b'/')
    });
    // Tokens end in a base62 crc; trailing punctuation belongs to the sentence.
    while end > body && !b[end - 1].is_ascii_alphanumeric() {
        end -= 1;
    }
    (end - body >= 8).then_some(Hit::Redact {
        start: i,
        end,
        kind,
    })
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
    ok.then_some(Hit::Redact {
        start: i,
        end: wend,
        kind,
    })
}

/// Base64url macaroon: `MDAx` is base64 of the "001" length prefix of its first packet.
fn match_macaroon(b: &[u8], i: usize) -> Option<Hit> {
    let body = run(b, i, |c| {
        c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
    });
    let end = run(b, body, |c| c == b'=');
    (end - i >= 40).then_some(Hit::Redact {
        start: i,
        end,
        kind: SecretKind::Macaroon,
    })
}

/// Secret-storage recovery key: 48 base58 chars starting `Es` (0x8B01 prefix),
/// plain or as 12 space-separated groups of 4.
fn match_recovery(b: &[u8], i: usize) -> Option<Hit> {
    // A base64 blob continuing past the base58 run is not a key.
    let ends_here = |p: usize| {
        b.get(p).map_or(true, |&c| {
            !(c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        })
    };
    let first = run(b, i, is_base58);
    let hit = |end| Hit::Redact {
        start: i,
        end,
        kind: SecretKind::RecoveryKey,
    };
    if first - i >= 48 && ends_here(first) {
        return Some(hit(first));
    }
    if first - i != 4 {
        return None;
    }
    // Take up to 12 groups; 8+ still redacts a truncated key, which is
    // nearly as sensitive, while prose rarely has 8 four-letter words in a row.
    let mut p = first;
    let mut groups = 1;
    while groups < 12 && b.get(p) == Some(&b' ') {
        let g = run(b, p + 1, is_base58);
        if g - (p + 1) != 4 || !ends_here(g) {
            break;
        }
        p = g;
        groups += 1;
    }
    (groups >= 8 && ends_here(p)).then(|| hit(p))
}

/// Value in quotes, possibly backslash-escaped `levels` times (JSON in a string).
fn quoted_value(b: &[u8], start: usize, qc: u8, levels: u32, kind: SecretKind) -> Option<Hit> {
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
            if let Some(delim) = closing_backslashes(bs, levels) {
                let end = j - delim;
                // `token= "password": "x"`: the "value" is really the next secret
                // key; skip it so the scan redacts that key's value instead.
                if b.get(skip_hspace(b, j + 1)) == Some(&b':')
                    && field_kind(&b[start..end]).is_some()
                {
                    return None;
                }
                break end;
            }
            bs = 0;
        } else if c == b'\n' || c == b'\r' {
            // Strings never span raw line breaks; stop the damage at the line.
            break j;
        } else {
            bs = 0;
        }
        j += 1;
    };
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

/// Query-string style value: up to a delimiter that cannot be in a token.
fn bare_value(b: &[u8], start: usize, kind: SecretKind) -> Option<Hit> {
    if let Some(n) = marker_len(b, start) {
        return Some(Hit::Skip(start + n));
    }
    let end = run(b, start, |c| {
        !(c <= b' '
            || matches!(
                c,
                b'&' | b'"' | b'\'' | b')' | b']' | b'>' | b',' | b'#' | b'\\' | b';' | b'}' | b'<'
            ))
    });
    span(b, start, end, kind)
}

fn span(b: &[u8], start: usize, end: usize, kind: SecretKind) -> Option<Hit> {
    if end <= start {
        return None;
    }
    if marker_len(b, start) == Some(end - start) {
        return Some(Hit::Skip(end));
    }
    Some(Hit::Redact { start, end, kind })
}

/// RFC 6750 b64token, plus JSON-escaped `\/`.
fn credentials_end(b: &[u8], start: usize) -> usize {
    let end = token_run(b, start, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
    });
    run(b, end, |c| c == b'=')
}

/// Length of a `[REDACTED:<kind>]` marker at `i`.
fn marker_len(b: &[u8], i: usize) -> Option<usize> {
    let rest = b.get(i..)?.strip_prefix(MARKER_PREFIX)?;
    SecretKind::ALL.iter().find_map(|k| {
        let name = k.as_str().as_bytes();
        (rest.starts_with(name) && rest.get(name.len()) == Some(&b']'))
            .then_some(MARKER_PREFIX.len() + name.len() + 1)
    })
}

/// Skips an optional (possibly backslash-escaped) quote closing a key.
fn skip_quote(b: &[u8], k: usize) -> usize {
    let q = run(b, k, |c| c == b'\\');
    if matches!(b.get(q), Some(b'"' | b'\'')) {
        q + 1
    } else {
        k
    }
}

/// An opening quote at `k` after `n` backslashes: (quote index, quote byte, escape depth).
fn open_quote(b: &[u8], k: usize) -> Option<(usize, u8, u32)> {
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
    Some((q, qc, levels))
}

fn skip_hspace(b: &[u8], k: usize) -> usize {
    run(b, k, |c| c == b' ' || c == b'\t')
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
    const MACAROON: &str = "MDAxOGxvY2F0aW9uIGxvY2FsaG9zdAowMDEzaWRlbnRpZmllciBrZXkKMDAxMGNpZCBnZW4gPSAxCjAwMjJjaWQgdXNlcl9pZCA9IEBhbGljZTpsb2NhbGhvc3QK-_x";
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
        assert_eq!(
            out,
            input.replacen(secret, &marker(kind), 1),
            "input: {input}"
        );
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
        assert!(
            matches!(twice, Cow::Borrowed(_)),
            "second pass changed {once:?} -> {twice:?} (input {input:?})"
        );
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
                "macaroon"
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
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            [(AccessToken, 1), (Password, 3), (Macaroon, 1)]
        );
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
            (
                format!("{{\"access_token\":\"{p}\",\"device_id\":\"ABCDEF\"}}"),
                AccessToken,
            ),
            (format!("{{'refresh_token': '{p}'}}"), RefreshToken),
            (format!("password: \"{p}\""), Password),
            (format!("{{password: '{p}'}}"), Password),
            (format!("\"password\":\"{p}\""), Password),
            (format!("\"Password\" : \"{p}\""), Password),
            (format!("\"new_password\": \"{p}\""), Password),
            (
                format!("{{\"type\":\"m.login.token\",\"token\":\"{p}\"}}"),
                LoginToken,
            ),
            (format!("\"recovery_key\": \"{p}\""), RecoveryKey),
            (format!("\"passphrase\":\"{p}\""), Password),
            (format!("\"login_token\":\"{p}\""), LoginToken),
            (format!("createClient({{accessToken: '{p}'}})"), AccessToken),
            (format!("password = \"{p}\""), Password),
            (format!("login(password='{p}')"), Password),
            (
                format!("SessionTokens {{ access_token: \"{p}\", refresh_token: None }}"),
                AccessToken,
            ),
            (
                format!("SessionTokens {{ access_token: None, refresh_token: Some(\"{p}\") }}"),
                RefreshToken,
            ),
        ];
        for (input, kind) in &cases {
            assert_redacted(input, p, *kind);
        }
        // Escaped quote and trailing backslash stay inside the value.
        assert_redacted(r#"{"password":"a\"b c","x":1}"#, r#"a\"b c"#, Password);
        assert_redacted(r#"{"password":"ab\\","x":1}"#, r#"ab\\"#, Password);
        // Truncated value: redact to end of line, keep the next line.
        assert_redacted(
            "{\"password\":\"hunter2 trunc\nnext",
            "hunter2 trunc",
            Password,
        );
        assert_redacted("{\"password\":\"hunter2 trunc", "hunter2 trunc", Password);
        // A "value" that is really the next secret key is skipped, not redacted.
        assert_redacted(&format!("password= \"new_password\": \"{p}\""), p, Password);
        assert_redacted(&format!("token= 'refresh_token': '{p}'"), p, RefreshToken);
        // Recovery key inside its field counts once, as the field.
        assert_redacted(
            &format!("{{\"recovery_key\":\"{RK_GROUPED}\"}}"),
            RK_GROUPED,
            RecoveryKey,
        );
    }

    #[test]
    fn escaped_json_fields() {
        assert_redacted(
            &format!(r#"body: "{{\"access_token\":\"{SYT}\",\"device_id\":\"DEV\"}}""#),
            SYT,
            AccessToken,
        );
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
        assert_redacted(
            "AUTHORIZATION: BEARER abc.def-ghi~jk+l/m==\r\n",
            "abc.def-ghi~jk+l/m==",
            Authorization,
        );
        assert_redacted(
            "{\"Authorization\": \"Bearer tok123\"}",
            "tok123",
            Authorization,
        );
        assert_redacted(
            "{'Authorization': 'Bearer tok123'}",
            "tok123",
            Authorization,
        );
        assert_redacted(
            "Authorization: Basic dXNlcjpwYXNz",
            "dXNlcjpwYXNz",
            Authorization,
        );
        assert_redacted(
            &format!("-H 'Authorization: Bearer {MACAROON}'"),
            MACAROON,
            Authorization,
        );
        assert_redacted(
            r#"{"Authorization":"Bearer syt_YS\/Yg_abcdEFGHijkl_0a1B2c"}"#,
            r"syt_YS\/Yg_abcdEFGHijkl_0a1B2c",
            Authorization,
        );
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig123";
        assert_redacted(
            &format!("sending with Bearer {jwt} now"),
            jwt,
            Authorization,
        );
        assert_redacted(&format!("BEARER {SYT}"), SYT, Authorization);
        assert_redacted(
            "bearer abcdefghijklmnopqrstuvwxyz",
            "abcdefghijklmnopqrstuvwxyz",
            Authorization,
        );
        assert_redacted("Bearer\tab12cd34", "ab12cd34", Authorization);
    }

    #[test]
    fn bare_synapse_and_mas_tokens() {
        assert_redacted(&format!("token {SYT}."), SYT, AccessToken);
        assert_redacted(SYT, SYT, AccessToken);
        assert_redacted(&format!("got \"{SYR}\""), SYR, RefreshToken);
        assert_redacted(&format!("sso redirect ({SYL})"), SYL, LoginToken);
        assert_redacted(
            "k=syt_YS+/Yg_abcdefghijklmnopqrst_012abc;",
            "syt_YS+/Yg_abcdefghijklmnopqrst_012abc",
            AccessToken,
        );
        assert_redacted(
            r"x syt_YS\/Yg_abcdefghijklmnopqrst_012abc\n",
            r"syt_YS\/Yg_abcdefghijklmnopqrst_012abc",
            AccessToken,
        );
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
        assert_redacted(
            &format!("Your recovery key is {RK_GROUPED}. Keep it safe."),
            RK_GROUPED,
            RecoveryKey,
        );
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
        assert_eq!(
            redact(&line, &mut c),
            "Authorization: Bearer [REDACTED:authorization]"
        );
        let line =
            format!(r#"{{"access_token":"{SYT}","refresh_token":"{SYR}","device_id":"ABCDEF"}}"#);
        assert_eq!(
            redact(&line, &mut c),
            r#"{"access_token":"[REDACTED:access_token]","refresh_token":"[REDACTED:refresh_token]","device_id":"ABCDEF"}"#
        );
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            [
                (AccessToken, 2),
                (RefreshToken, 1),
                (Password, 1),
                (Authorization, 1)
            ]
        );
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
        for p in positives
            .iter()
            .map(String::as_str)
            .chain(NEGATIVES.iter().copied())
        {
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
        const CHARS: &[&str] = &[
            "a", "Z", "9", " ", "!", "@", "$", "%", "^", "*", "(", ")", "-", "_", "é", "🙂", "日",
            "=", "&", ":", "{",
        ];
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
        key.as_bytes()
            .chunks(4)
            .map(|c| core::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A fragment containing secrets, and the secrets that must vanish.
    fn plant(rng: &mut Rng) -> (String, String) {
        let t = any_token(rng);
        let p = password(rng);
        match rng.below(26) {
            0 => (
                format!(
                    "GET https://hs/_matrix/client/v3/sync?filter=0&access_token={t}&timeout=30000"
                ),
                t,
            ),
            1 => (format!("?refresh_token={t}&x=1"), t),
            2 => (format!("https://app.element.io/?loginToken={t}#/home"), t),
            3 => (format!("login_token={t}"), t),
            4 => (format!("(https://hs/sso?token={t})"), t),
            5 => (
                format!("{{\"access_token\":\"{t}\",\"device_id\":\"ABCDEF\"}}"),
                t,
            ),
            6 => (format!("{{'refresh_token': '{t}'}}"), t),
            7 => (format!("password: \"{p}\""), p),
            8 => (format!("{{\"password\":\"{p}\"}}"), p),
            9 => (format!("\"new_password\": \"{p}\""), p),
            10 => (
                format!("{{\"type\":\"m.login.token\",\"token\":\"{t}\"}}"),
                t,
            ),
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
                let m = format!(
                    "{}_{}_{}",
                    rng.pick(&["mat", "mar", "mct", "mcr"]),
                    rng.ascii(ALNUM, 30),
                    rng.ascii(ALNUM, 6)
                );
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
            "a", "Z", "7", "_", "-", " ", "\"", "'", "\\", ":", "=", "&", "?", "[", "]", "{", "}",
            "(", ")", "/", "+", ".", ",", "#", "\n", "\r", "\t", "é", "🙂", "日", "\u{0}",
            "\u{7f}", "\u{feff}", "Es", "MDAx",
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
                assert!(
                    !out.contains(s.as_str()),
                    "iter {iter}: secret {s:?} survived in {out:?}"
                );
            }
            for k in &kept {
                assert!(
                    out.contains(k),
                    "iter {iter}: {k:?} lost in {out:?} (input {input:?})"
                );
            }
            assert!(c.total() as usize >= secrets.len().min(1));
            let mut c2 = RedactionCounts::default();
            let again = redact(&out, &mut c2);
            assert!(
                matches!(again, Cow::Borrowed(_)),
                "iter {iter}: not idempotent: {input:?}"
            );
            assert_eq!(c2.total(), 0);
        }
    }

    #[test]
    fn fuzz_random_bytes_and_truncation() {
        const BYTES: &[u8] = b"\"'\\:= &?[]{}()/+._-\n\t#,;<>EsMDAxsyt_token_passwordBearer Authorization: 19aZ\xc3\xa9\xf0\x9f\x99\x82\x00\xff";
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
        let line = format!(
            "GET https://hs/?access_token={SYT}&x=1 {{\"password\":\"p w\"}} {OTK_ERROR} é🙂\n"
        );
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
}
