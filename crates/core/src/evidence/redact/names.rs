//! Which names hold secrets: any name that merely *contains* a secret word
//! (`cinny_access_token`, `MATRIX_ACCESS_TOKEN`, `botAccessToken`,
//! `newPasswordConfirm`, `smtp_pass`, `recaptcha_private_key`, `Set-Cookie`),
//! after dropping case, `_`, `-`, `.` and URL-encoded `_`. A few names
//! contain a secret word and hold public data (`key_id`, `errcode`,
//! `session_id`, `sender_key`, …); they are listed, and nothing else is.

use super::SecretKind;

/// Longest name looked at (normalised bytes); longer runs are not names.
pub(crate) const MAX_NAME: usize = 64;

/// Public values under names with a secret word in them (normalised).
const PUBLIC: &[&[u8]] = &[
    b"keyid",
    b"keyids",
    b"keyidscheme",
    b"keyindex",
    b"keycount",
    b"keyalgorithm",
    b"keys",
    b"onetimekeys",
    b"onetimekeycounts",
    b"signedcurve25519",
    b"devicekeys",
    b"fallbackkeys",
    b"unusedfallbackkeytypes",
    b"senderkey",
    b"publickey",
    b"oldkey",
    b"newkey",
    b"statekey",
    b"errcode",
    b"statuscode",
    b"sessionid",
    b"author",
    b"missingkey",
    b"tokentype",
];

/// (word, kind, weak). Tried in order; the first word the name contains wins.
/// A weak word is also an everyday word (`key`, `code`, `session`, `auth`):
/// alone as a name, a plain word or a small number under it is left alone.
const WORDS: &[(&[u8], SecretKind, bool)] = &[
    (b"password", SecretKind::Password, false),
    (b"passphrase", SecretKind::Password, false),
    (b"passwd", SecretKind::Password, false),
    (b"refreshtoken", SecretKind::RefreshToken, false),
    (b"accesstoken", SecretKind::AccessToken, false),
    (b"logintoken", SecretKind::LoginToken, false),
    (b"idtoken", SecretKind::IdToken, false),
    (b"astoken", SecretKind::ServerSecret, false),
    (b"hstoken", SecretKind::ServerSecret, false),
    (b"recoverykey", SecretKind::RecoveryKey, false),
    (b"clientsecret", SecretKind::ClientSecret, false),
    (b"sharedsecret", SecretKind::ServerSecret, false),
    (b"secretkey", SecretKind::ServerSecret, false),
    (b"formsecret", SecretKind::ServerSecret, false),
    (b"authorization", SecretKind::Authorization, false),
    (b"macaroon", SecretKind::Macaroon, false),
    (b"codeverifier", SecretKind::AuthorizationCode, false),
    (b"devicecode", SecretKind::AuthorizationCode, false),
    (b"usercode", SecretKind::AuthorizationCode, false),
    (b"authcode", SecretKind::AuthorizationCode, false),
    (b"pickle", SecretKind::E2eeSecret, false),
    (b"private", SecretKind::E2eeSecret, false),
    (b"megolmbackup", SecretKind::E2eeSecret, false),
    (b"signingkey", SecretKind::E2eeSecret, false),
    (b"masterkey", SecretKind::E2eeSecret, false),
    (b"sessionkey", SecretKind::E2eeSecret, false),
    (b"secret", SecretKind::Secret, false),
    (b"token", SecretKind::Token, false),
    (b"jwt", SecretKind::IdToken, false),
    (b"credential", SecretKind::Secret, false),
    (b"cookie", SecretKind::Secret, false),
    (b"apikey", SecretKind::Secret, false),
    (b"pwd", SecretKind::Password, false),
    (b"code", SecretKind::AuthorizationCode, true),
    (b"key", SecretKind::E2eeSecret, true),
    (b"session", SecretKind::Secret, true),
    (b"auth", SecretKind::Secret, true),
];

/// A name's secret kind and whether its word is weak, or `None` (not a
/// secret name, a public one, or too long to be a name).
pub(crate) fn secret_name(name: &[u8]) -> Option<(SecretKind, bool)> {
    let mut buf = [0u8; MAX_NAME];
    let mut n = 0;
    let mut i = 0;
    while i < name.len() {
        let c = name[i];
        if c.is_ascii_alphanumeric() {
            if n == MAX_NAME {
                return None;
            }
            buf[n] = c.to_ascii_lowercase();
            n += 1;
        } else if c == b'%' {
            // `%5F` / `%255F` / `%2D`: an encoded separator, dropped.
            i += if name.get(i + 1..i + 3) == Some(b"25") { 4 } else { 2 };
        }
        i += 1;
    }
    let norm = &buf[..n];
    if n == 0 || PUBLIC.contains(&norm) {
        return None;
    }
    // `pass` glued at the end (`smtp_pass`, `db_pass`) or alone; not `passive`.
    if norm.ends_with(b"pass") {
        return Some((SecretKind::Password, false));
    }
    // An everyday word is weak only alone (`key:`, `Code:`); glued into a longer
    // name (`oidc_session`, `backupKey`) it names a secret like any other.
    WORDS.iter().find(|(w, _, _)| contains(norm, w)).map(|&(w, k, weak)| (k, weak && (norm == w || norm.strip_suffix(b"s") == Some(w))))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The secret kind of a field name (`"accessToken"`, `"client_secret"`,
/// `"cinny_access_token"`, …), or `None` for a name that is not a secret's.
#[must_use]
pub fn field_kind(name: &str) -> Option<SecretKind> {
    secret_name(name.as_bytes()).map(|(k, _)| k)
}
