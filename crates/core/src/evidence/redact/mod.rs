//! Secret redaction for everything crypto-health stores or prints: console
//! text, JSON entry fields, the report's `extra`, findings and CLI output all
//! go through this one module.
//!
//! Deny by default. A list of secret key names is always one spelling behind,
//! so what is kept is what is known to be safe, and the rest is judged by its
//! shape:
//! - kept: Matrix ids by their grammar (`@user:server`, `!room:server` or a
//!   room version 12 id, `!` and 43 base64url characters, `$event`,
//!   `#alias:server`), key ids (`signed_curve25519:AAAAAQ`,
//!   `ed25519:DEVICE`), `mxc://` URIs, `/_matrix/…` endpoint paths, numbers,
//!   words, and the values a KE parser extracted and marked public (the keys
//!   and signatures of a KE-1 proof);
//! - masked whatever its key: runs that look like key material or a token
//!   (long base64/base64url/base58/hex runs, JWT/JWE, Synapse and MAS tokens,
//!   PEM blocks, byte arrays, grouped recovery keys), credentials in URLs;
//! - masked whole: the value under any name that merely contains a secret
//!   word ([`names`]), in every spelling a log gives it (JSON, escaped JSON,
//!   HTML-escaped, URL-encoded, Python, Rust `Debug`, YAML, logfmt, headers,
//!   tuples, HAR `name`/`value` pairs), quoted or multi-word.
//!
//! A mask names the kind removed and, when a per-report key is set, a short
//! keyed fingerprint of the value: `[REDACTED:access_token#3fa9c1]`. The same
//! token in two lines gets the same fingerprint within one report; the key is
//! random per report (per run in the CLI), so a fingerprint confirms no guess.
//! Without a key there is no fingerprint: better no link than a guessable one.
//!
//! Linear time: one forward pass; every lookahead is capped or stops where
//! the next lookahead of its kind would start, and what it looked at is
//! consumed. `redact_steps` exposes the step count the growth test checks.

mod json;
mod names;
mod scan;
mod shapes;

pub use json::{public_values, redact_value, redact_value_capped, redact_value_public};
pub use names::field_kind;

use std::borrow::Cow;

/// What kind of secret was removed; used as report keys (see `as_str()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    /// A Matrix access token (by name, or Synapse/MAS token shape).
    AccessToken,
    /// A refresh token.
    RefreshToken,
    /// A login token (`m.login.token`).
    LoginToken,
    /// A password or passphrase.
    Password,
    /// A secret-storage recovery key.
    RecoveryKey,
    /// The credentials of an `Authorization` header or a `Bearer` token.
    Authorization,
    /// A macaroon.
    Macaroon,
    /// OpenID Connect ID tokens (MAS / MSC3861 deployments), also bare JWTs.
    IdToken,
    /// OAuth 2.0 authorization `code`, PKCE verifier, device code.
    AuthorizationCode,
    /// OAuth `client_secret`, also the 3PID `client_secret`.
    ClientSecret,
    /// Homeserver configuration secrets: `registration_shared_secret`,
    /// appservice `as_token` / `hs_token`, `macaroon_secret_key`, `form_secret`.
    ServerSecret,
    /// End-to-end encryption private material: private and session keys,
    /// pickles, the secrets bundle, backup keys, attachment and call keys.
    E2eeSecret,
    /// Any other token under a name that says so.
    Token,
    /// Any other value under a secret-sounding name (secret, credential,
    /// cookie, session, auth).
    Secret,
    /// A run that looks like key material whatever its name: long random
    /// base64/hex/base58, byte arrays, PEM blocks, URL credentials.
    KeyMaterial,
}

impl SecretKind {
    /// Every kind, in report order.
    pub const ALL: [SecretKind; 15] = [
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
        SecretKind::Token,
        SecretKind::Secret,
        SecretKind::KeyMaterial,
    ];

    /// The kind's name in masks and in the report's `redaction.byKind`.
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
            SecretKind::Token => "token",
            SecretKind::Secret => "secret",
            SecretKind::KeyMaterial => "key_material",
        }
    }
}

/// Per-kind counts, accumulated across calls, and the report's fingerprint
/// key (none by default: masks then carry no fingerprint).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RedactionCounts {
    counts: [u32; SecretKind::ALL.len()],
    key: Option<[u8; 16]>,
}

impl std::fmt::Debug for RedactionCounts {
    // The key stays out of debug output: with it, a fingerprint confirms a guess.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactionCounts").field("counts", &self.counts).field("keyed", &self.key.is_some()).finish()
    }
}

impl RedactionCounts {
    /// Counts that fingerprint masks with `key` (random, one per report or run).
    #[must_use]
    pub fn with_key(key: [u8; 16]) -> Self {
        RedactionCounts { key: Some(key), ..Default::default() }
    }

    /// Set or clear the fingerprint key; counts are kept.
    pub fn set_key(&mut self, key: Option<[u8; 16]>) {
        self.key = key;
    }

    /// No counts, the same key.
    #[must_use]
    pub fn zeroed(&self) -> Self {
        RedactionCounts { key: self.key, ..Default::default() }
    }

    /// Whether masks carry a fingerprint.
    #[must_use]
    pub fn keyed(&self) -> bool {
        self.key.is_some()
    }

    /// How many of kind `k` were removed.
    #[must_use]
    pub fn get(&self, k: SecretKind) -> u32 {
        self.counts[k as usize]
    }

    /// How many were removed in all.
    #[must_use]
    pub fn total(&self) -> u32 {
        self.counts.iter().fold(0u32, |a, &c| a.saturating_add(c))
    }

    /// Count one removal of kind `k`.
    pub fn add(&mut self, k: SecretKind) {
        let c = &mut self.counts[k as usize];
        *c = c.saturating_add(1);
    }

    /// Add `other`'s counts (its key is not taken).
    pub fn merge(&mut self, other: &RedactionCounts) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a = a.saturating_add(b);
        }
    }

    /// Only kinds with a non-zero count, in `SecretKind::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = (SecretKind, u32)> + '_ {
        SecretKind::ALL.iter().map(move |&k| (k, self.get(k))).filter(|&(_, n)| n > 0)
    }

    /// The mask for `value` of kind `kind`, counted: `[REDACTED:kind#xxxxxx]`.
    pub(crate) fn mask(&mut self, kind: SecretKind, value: &[u8], out: &mut String) {
        self.add(kind);
        out.push_str("[REDACTED:");
        out.push_str(kind.as_str());
        if let Some(key) = self.key {
            let fp = fingerprint(&key, value);
            out.push('#');
            for shift in [20, 16, 12, 8, 4, 0] {
                out.push(char::from(HEX[((fp >> shift) & 0xf) as usize]));
            }
        }
        out.push(']');
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// 24 bits of a keyed hash of `value`: enough to match lines within one
/// report, too few to say much about the value, and without the key (random
/// per report) no guess can be checked against it. A multiply-xorshift mix
/// seeded by both key halves and finalised with the second: small in the
/// wasm, where std's SipHash would cost a kilobyte.
fn fingerprint(key: &[u8; 16], value: &[u8]) -> u32 {
    let (mut lo, mut hi) = ([0u8; 8], [0u8; 8]);
    lo.copy_from_slice(&key[..8]);
    hi.copy_from_slice(&key[8..]);
    let (k0, k1) = (u64::from_le_bytes(lo), u64::from_le_bytes(hi));
    let mix = |mut h: u64| {
        h ^= h >> 32;
        h = h.wrapping_mul(0xd6e8_feb8_6659_fd93);
        h ^ (h >> 32)
    };
    let mut h = k0 ^ (value.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for chunk in value.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        h = mix(h ^ u64::from_le_bytes(w) ^ k1).wrapping_add(k0);
    }
    (mix(h ^ k1) >> 40) as u32
}

/// Replace every secret with a mask, counting each one.
pub fn redact<'a>(input: &'a str, counts: &mut RedactionCounts) -> Cow<'a, str> {
    scan::Scan::new(input, counts, &[]).run().0
}

/// [`redact`], keeping the exact strings in `public` (values a parser
/// extracted and knows to be public, such as a KE-1 proof's keys).
pub fn redact_public<'a>(input: &'a str, counts: &mut RedactionCounts, public: &[&str]) -> Cow<'a, str> {
    scan::Scan::new(input, counts, public).run().0
}

/// [`redact`] and the number of steps it took (bytes looked at, lookaheads
/// included): what the growth test measures instead of wall time.
#[doc(hidden)]
pub fn redact_steps(input: &str) -> (String, u64) {
    let mut c = RedactionCounts::default();
    let (out, steps) = scan::Scan::new(input, &mut c, &[]).run();
    (out.into_owned(), steps)
}

/// Length of a mask (`[REDACTED:kind]` or `[REDACTED:kind#xxxxxx]`) at `i`.
pub(crate) fn mask_len(b: &[u8], i: usize) -> Option<usize> {
    const PREFIX: &[u8] = b"[REDACTED:";
    let rest = b.get(i..)?.strip_prefix(PREFIX)?;
    let n = rest.iter().take(24).take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || **c == b'_').count();
    let name = &rest[..n];
    if !SecretKind::ALL.iter().any(|k| k.as_str().as_bytes() == name) {
        return None;
    }
    let mut m = n;
    if rest.get(m) == Some(&b'#') && rest.get(m + 1..m + 7).is_some_and(|h| h.iter().all(|c| HEX.contains(c))) {
        m += 7;
    }
    (rest.get(m) == Some(&b']')).then_some(PREFIX.len() + m + 1)
}
