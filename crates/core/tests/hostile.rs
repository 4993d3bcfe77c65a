//! Property-based checks over the core with hostile input: random and mutated
//! console lines, Synapse 400 bodies, JSON and Python reprs, with secrets
//! planted at random positions in every spelling the redactor knows.
//!
//! Properties: nothing panics; a JSON line redacts to a JSON line with the same
//! keys; no planted secret (nor any 8-character piece of it) survives in the
//! redacted text, in a stored entry or in the exported report; identifiers stay.
//! The cost per byte of hostile lines is checked in `cost_per_byte.rs` (its own
//! test binary, so these threads do not disturb its timing).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test's panic is its failure report")]

use crypto_health_core::evidence::redact::{redact, RedactionCounts};
use crypto_health_core::{classify, Config, Context, Journal, Report};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config as PtConfig;
use serde_json::Value;

// ------------------------------------------------------------------ secrets

/// Secret alphabet for values that sit in quotes or to the end of a line.
const WIDE: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@$%^*()-_+=:;,.?/|~é日🙂 ";
/// For bare `key=value` query values (what survives a URL).
const URLSAFE: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~";
const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const B58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const B64URL: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

fn chars_of(alphabet: &'static str, len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    let cs: Vec<char> = alphabet.chars().collect();
    proptest::collection::vec(proptest::sample::select(cs), len).prop_map(|v| v.into_iter().collect())
}

/// A random secret that starts and ends with a letter-digit pair, so it is
/// distinctive, token-like and never trimmed as punctuation.
fn secret(alphabet: &'static str) -> impl Strategy<Value = String> {
    (chars_of(ALNUM, 1..=1), chars_of(alphabet, 10..=22), 0u32..1000).prop_map(|(a, mid, n)| format!("Q{a}{}{n}z", mid.trim()))
}

/// Keys and whether they take unquoted `key: value` (YAML/INI) values.
const KEYS: &[(&str, bool)] = &[
    ("access_token", true),
    ("accessToken", true),
    ("refresh_token", true),
    ("login_token", true),
    ("password", true),
    ("new_password", true),
    ("passphrase", true),
    ("recovery_key", true),
    ("id_token", true),
    ("client_secret", true),
    ("registration_shared_secret", true),
    ("as_token", true),
    ("hs_token", true),
    ("macaroon_secret_key", true),
    ("private_key", true),
    ("session_key", true),
    ("pickleKey", true),
    ("token", false),
    ("secret", false),
];

fn encode_key(k: &str, mode: u8) -> String {
    match mode {
        1 => k.replace('_', "%5F"),
        2 => k.replace('_', "%255F"),
        _ => k.to_owned(),
    }
}

/// A fragment carrying one secret, and that secret.
fn plant() -> impl Strategy<Value = (String, String)> {
    let keyed = (proptest::sample::select(KEYS), 0u8..22, 0u8..3, secret(WIDE), secret(URLSAFE), " {0,2}", any::<bool>()).prop_filter_map(
        "shape needs a YAML key",
        |((key, yaml), shape, enc, wide, url, sp, flag)| {
            let k = encode_key(key, if (6..=8).contains(&shape) { enc } else { 0 });
            let w = wide.clone();
            Some(match shape {
                0 => (format!("{{\"{key}\"{sp}:{sp}\"{w}\",\"x\":1}}"), wide),
                1 => (format!("{{\"msg\":\"{{\\\"{key}\\\":{sp}\\\"{w}\\\"}}\"}}"), wide),
                2 => (format!("{{'{key}':{sp}'{w}'}}"), wide),
                3 => (format!("{{b'{key}': b'{w}', b'x': b'y'}}"), wide),
                4 => (format!("https://hs/_matrix/client/v3/x?a=1&{key}={url}&b=2"), url),
                5 => (format!("?{key}={url}"), url),
                6 => (format!("next=https%3A%2F%2Fhs%2Fx%3F{k}%3D{url}%26b%3D2"), url),
                7 => (format!("next=https%253A%252F%252Fhs%252Fx%253F{k}%253D{url}%2526b%253D2"), url),
                8 => (format!("https://hs/x?{k}={url}#frag"), url),
                9 => (format!("{{\"msg\":\"failed\\n{key}={url} ok\"}}"), url),
                10 => (format!("{{\"msg\":\"failed\\t{key}: \\\"{w}\\\"\"}}"), wide),
                11 => (format!("{{\"msg\":\"caf\\u00e9{key}={url}\"}}"), url),
                12 if yaml => (format!("{key}:{sp} {w}\n"), wide),
                13 if yaml => (format!("  {key} = {w}\r\n"), wide),
                14 => (format!("SessionTokens {{ {key}: Some(\"{w}\"), other: None }}"), wide),
                15 if yaml => {
                    let n: String = url.chars().filter(char::is_ascii_digit).collect::<String>() + "1234567";
                    if flag {
                        (format!("{{\"{key}\": {n}, \"x\": 1}}"), n)
                    } else {
                        (format!("{{'{key}': {n}}}"), n)
                    }
                }
                16 => (format!("{{\"msg\": \"user's {key}: '{w}\", \"level\": \"INFO\"}}"), wide),
                17 => (format!("{key}=\"{w}\""), wide),
                18 => (format!("login({key}='{w}')"), wide),
                19 => (format!("\\\\\\\"{key}\\\\\\\":\\\\\\\"{w}\\\\\\\""), wide),
                20 => (format!("{key}%3D{url}%26x"), url),
                21 => (format!("b'\\xe9{key}={url}'"), url),
                _ => return None,
            })
        },
    );
    let header = (0u8..7, secret(URLSAFE), chars_of(ALNUM, 3..=6)).prop_map(|(shape, t, short)| {
        let short = format!("{short}9");
        match shape {
            0 => (format!("Authorization: Bearer {t}"), t),
            1 => (format!("{{\"Authorization\": \"Bearer {t}\"}}"), t),
            2 => (format!("{{b'Authorization': [b'Bearer {t}']}}"), t),
            3 => (format!("h=Authorization%3A%20Bearer%20{t}%0D%0A"), t),
            4 => (format!("h=Authorization%253A%2520Bearer%2520{t}%2526"), t),
            5 => (format!("retrying with Bearer {short}"), short),
            _ => (format!("authorization: basic {t}"), t),
        }
    });
    let bare = (
        0u8..12,
        chars_of(ALNUM, 20..=20),
        chars_of(ALNUM, 6..=6),
        chars_of(B58, 46..=46),
        chars_of(B64URL, 40..=90),
        chars_of(B64URL, 10..=40),
    )
        .prop_map(|(shape, rnd, crc, b58, blob, seg)| {
            let key = format!("Es{b58}");
            let grouped = key.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>();
            match shape {
                0 => {
                    let t = format!("syt_YWxpY2U_{rnd}_{crc}");
                    (format!("token {t}."), t)
                }
                1 => {
                    let t = format!("syr_Ym9i_{rnd}_{crc}");
                    (format!("({t})"), t)
                }
                2 => {
                    let t = format!("syl_{rnd}_{crc}");
                    (format!("\\n{t}"), t)
                }
                3 => {
                    let t = format!("mat_{}_{crc}", &format!("{rnd}{rnd}")[..30]);
                    (t.clone(), t)
                }
                4 => {
                    let t = format!("MDAx{blob}");
                    (format!("old {t} used"), t)
                }
                5 => {
                    let t = format!("eyJ{seg}.eyJ{seg}.{seg}");
                    (format!("got {t} back"), t)
                }
                6 => (format!("key {key} ok"), key),
                7 => {
                    let t = grouped.join(" ");
                    (format!("Recovery key: {t}"), t)
                }
                8 => {
                    let t = grouped.join("  ");
                    (format!("[{t}]"), t)
                }
                9 => {
                    let t = grouped.join("-");
                    (format!("key={t}"), t)
                }
                10 => {
                    let t = format!("{}\n{}", grouped[..6].join(" "), grouped[6..].join(" "));
                    (format!("key:\n{t}\n"), t)
                }
                _ => {
                    let t = grouped.join(" ");
                    (format!("{{\"m\":\"\\n{t}\"}}"), t)
                }
            }
        });
    prop_oneof![6 => keyed, 2 => header, 2 => bare, 6 => deny_by_default()]
}

/// Names that merely contain a secret word, glued or in any case.
const GLUED: &[&str] = &[
    "cinny_access_token",
    "mx_access_token",
    "mx_refresh_token",
    "MATRIX_ACCESS_TOKEN",
    "botAccessToken",
    "newPasswordConfirm",
    "smtp_pass",
    "turn_shared_secret",
    "admin_token",
    "LIVEKIT_SECRET",
    "recaptcha_private_key",
    "master_key",
    "self_signing_key",
    "user_signing_key",
    "m.megolm_backup.v1",
    "pickleKey",
    "oidc_session",
    "X-Auth-Token",
    "code_verifier",
    "device_code",
    "db_credentials",
];

/// The classes a list of names missed: glued names, key and value apart,
/// tokens without a keyword, byte arrays, PEM, URL credentials, multi-word values.
fn deny_by_default() -> impl Strategy<Value = (String, String)> {
    (
        proptest::sample::select(GLUED),
        0u8..20,
        secret(URLSAFE),
        chars_of(B64URL, 10..=30),
        proptest::collection::vec(0u8..=255, 9..40),
        proptest::collection::vec(chars_of("abcdefghijklmnopqrstuvwxyz", 3..=8), 2..5),
    )
        .prop_map(|(name, shape, url, seg, bytes, words)| {
            let list = bytes.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
            let phrase = format!("Q{}9z", words.join(" "));
            match shape {
                0 => (format!("{{\"{name}\":\"{url}\"}}"), url),
                1 => (format!("{name}={url}"), url),
                2 => (format!("{name}: {phrase}"), phrase),
                3 => (format!("{{\"name\":\"{name}\",\"value\":\"{url}\"}}"), url),
                4 => (format!("('{name}', '{url}')"), url),
                5 => (format!("{name} => '{url}'"), url),
                6 => (format!("Secret(\"{url}\") {name}(\"{url}\")"), url),
                7 => (format!("{{&quot;{name}&quot;:&quot;{url}&quot;}}"), url),
                8 => {
                    let t = format!("eyJ{seg}.eyJ{seg}.{seg}");
                    (format!("?jwt={t}&x=1"), t)
                }
                9 => {
                    let t = format!("MDAx{seg}{seg}");
                    (format!("Set-Cookie: oidc_session={t}; Path=/"), t)
                }
                10 => (format!("authorization=Bearer+{url}"), url),
                11 => (format!("postgres://synapse:{url}@db:5432/synapse"), url),
                12 => (format!("-----BEGIN PRIVATE KEY-----\n{seg}{url}\n-----END PRIVATE KEY-----"), url),
                13 => (format!("{name}: [{list}]"), list),
                14 => {
                    let obj = bytes.iter().enumerate().map(|(i, b)| format!("\"{i}\":{b}")).collect::<Vec<_>>().join(",");
                    (format!("{{\"k\":{{{obj}}}}}"), obj)
                }
                15 => (format!("{name}='{}'", phrase.replacen(' ', "''", 1)), phrase.split(' ').next_back().unwrap_or_default().to_owned()),
                16 => (format!("level=info {name}={phrase} user=@alice:example.org"), phrase),
                17 => {
                    let t = format!("{seg}{url}").replace(['-', '_'], "");
                    (format!("random {t} here"), t)
                }
                18 => (format!("my password is {url}"), url),
                _ => (format!("{name}=\"{phrase}\""), phrase),
            }
        })
}

// ------------------------------------------------------------------ contexts

const KE1_BODY: &str = r#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4\",\"signatures\":{\"@alice:example.org\":{\"ed25519:ABCDEFGHIJ\":\"c2lnMQ\"}}}; new key: {'key': 'bq0KZ2mXj7QvUqk1cfF8eWm5cJmWl3gNn7sHh1Rk9Gk', 'signatures': {'@alice:example.org': {'ed25519:ABCDEFGHIJ': 'c2lnMg'}}}"}"#;

/// Console lines as the SDK, Element Call and Synapse write them (some match a signature).
const LINES: &[&str] = &[
    "FetchHttpApi: --> GET https://hs/_matrix/client/v3/sync?filter=0&timeout=30000",
    "FetchHttpApi: <-- POST https://hs/_matrix/client/v3/keys/upload [65ms 400]",
    "Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4\",\"signatures\":{}}; new key: {'key': 'bq0KZ2mXj7QvUqk1cfF8eWm5cJmWl3gNn7sHh1Rk9Gk', 'signatures': {}}",
    "[MembershipManager] Reached maximum (10) retries cause by: Error: POST https://hs/_matrix/client/v3/delayed_events failed",
    "MissingKey: missing key at index 3 for participant @bob:example.org:BOBDEVICE",
    "Error decrypting event (id=$ev1 type=m.room.encrypted sender=@b:hs): DecryptionError[msg: missing field `algorithm` at line 1 column 12]",
    "error updating delayed event: Error: timed out",
    "Sync connection lost, retrying in 5s",
    "2026-06-30T20:01:02.123Z WARN matrix_sdk_crypto::machine: Received an unexpected encrypted to-device event sender=\"@bob:example.org\"",
    "synapse.http.server - 123 - INFO - POST-42 - <XForwardedForRequest at 0x7f method='POST' uri='/_matrix/client/v3/keys/upload' clientproto='HTTP/1.1' site='8008'>",
    KE1_BODY,
    "{'user_id': '@alice:example.org', 'device_id': 'ABCDEFGHIJ', 'one_time_keys': {'signed_curve25519:AAAAAQ': {'key': 'Zm9v'}}}",
    "{\"level\":\"INFO\",\"msg\":\"it's fine\",\"n\":1.5,\"ok\":true}",
];

/// Identifiers the runbook needs, each a whole token on its line.
const IDS: &[&str] = &[
    "@alice:example.org",
    "@syt_notifications:example.org",
    "#syl_lounge_chat:example.org",
    "!syt_roomroomroom:example.org",
    "$Xw7eKxqfT8xQ-Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4",
    "ABCDEFGHIJ",
    "ed25519:ABCDEFGHIJ",
    "signed_curve25519:AAAAAAAAAA0",
    "token=t47409-4357353_219380_26003_2265",
    "since=s72594_4483_1934",
    "sender_key=curve25519:Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4",
];

/// Fragments that stress the scanner (quotes, escapes, encodings, near-keys).
const HOSTILE_BITS: &[&str] = &[
    "\"",
    "'",
    "\\",
    "\\\\",
    "\\\"",
    "\\n",
    "\\u00e9",
    "\\x",
    "%",
    "%25",
    "%5F",
    "%3D",
    "%22",
    ":",
    "=",
    "==",
    "&",
    "?",
    "[",
    "]",
    "{",
    "}",
    "b'",
    "Some(",
    "password",
    "token",
    "secret",
    "Bearer ",
    "Authorization: ",
    "Es",
    "MDAx",
    "eyJ",
    "syt_",
    "[REDACTED:",
    "[REDACTED:password]",
    "\n",
    "\r\n",
    "\t",
    " ",
    "é",
    "🙂",
    "\u{0}",
    "\u{feff}",
    "1e99",
    "-",
    "@",
    "#",
];

/// A char boundary of `s` picked by `seed`.
fn boundary(s: &str, seed: usize) -> usize {
    let cuts: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
    cuts[seed % cuts.len()]
}

/// `context` with `frag` inserted at a random char boundary, set off by separators.
fn insert(context: &str, frag: &str, seed: usize, sep: &str) -> String {
    let at = boundary(context, seed);
    format!("{}{sep}{frag}{sep}{}", &context[..at], &context[at..])
}

/// No 8-character piece of `secret` (or all of it, if shorter) is in `out`.
#[track_caller]
fn assert_gone(out: &str, secret: &str, input: &str) {
    let cs: Vec<char> = secret.chars().collect();
    let w = cs.len().min(8);
    for win in cs.windows(w) {
        let piece: String = win.iter().collect();
        if piece.trim() != piece || piece.chars().all(|c| c.is_ascii_digit()) && w < 8 {
            continue;
        }
        assert!(!out.contains(&piece), "piece {piece:?} of {secret:?} survived\n out: {out:?}\n  in: {input:?}");
    }
}

fn red(s: &str) -> String {
    redact(s, &mut RedactionCounts::default()).into_owned()
}

/// The same cases on every run, so CI is reproducible: a fixed seed unless
/// `CRYPTO_HEALTH_PROPTEST_SEED` names another (`random` draws a new one,
/// for exploring; a failure prints the case, which then becomes a test).
fn cfg(cases: u32) -> PtConfig {
    let rng_seed = match std::env::var("CRYPTO_HEALTH_PROPTEST_SEED").as_deref() {
        Ok("random") => proptest::test_runner::RngSeed::Random,
        Ok(n) => proptest::test_runner::RngSeed::Fixed(n.parse().expect("CRYPTO_HEALTH_PROPTEST_SEED: a number or `random`")),
        Err(_) => proptest::test_runner::RngSeed::Fixed(0x5eed_c0de),
    };
    PtConfig { cases, failure_persistence: None, rng_seed, ..PtConfig::default() }
}

const SEPS: &[&str] = &[" ", "\n", ", ", "\t", " (", "; "];

proptest! {
    #![proptest_config(cfg(768))]

    /// Planted anywhere in any line, in any spelling: gone from the redacted text.
    #[test]
    fn planted_secrets_never_survive(
        (frag, secret) in plant(),
        line in proptest::sample::select(LINES),
        seed in any::<usize>(),
        sep in proptest::sample::select(SEPS),
    ) {
        let input = insert(line, &frag, seed, sep);
        let out = red(&input);
        assert_gone(&out, &secret, &input);
        // And a second pass has nothing left to do.
        let mut c = RedactionCounts::default();
        let again = redact(&out, &mut c);
        prop_assert_eq!(c.total(), 0, "second pass redacted more: {:?}", again);
    }

    /// A JSON line in is a JSON line out, with the same keys, whatever its strings hold.
    #[test]
    fn json_lines_stay_json(
        values in proptest::collection::vec(
            (0u8..5, proptest::collection::vec(proptest::sample::select(HOSTILE_BITS), 0..12), plant(), proptest::sample::select(KEYS)),
            1..6,
        ),
        pretty in any::<bool>(),
    ) {
        let mut obj = serde_json::Map::new();
        let mut secrets = Vec::new();
        for (n, (how, bits, (frag, secret), (key, _))) in values.into_iter().enumerate() {
            let noise: String = bits.concat();
            let v = match how {
                0 => Value::String(format!("{noise} {frag} {noise}")),
                1 => Value::String(format!("{noise} {frag}")),
                2 => Value::String(noise),
                3 => Value::Array(vec![Value::String(frag), Value::from(n)]),
                _ => Value::String(secret.clone()),
            };
            if how != 2 {
                secrets.push(secret);
            }
            // A secret key holds the plain secret; other keys hold text with plants in it.
            let k = if how == 4 { key.to_owned() } else { format!("k{n}") };
            obj.insert(k, v);
        }
        obj.insert("level".into(), Value::from("INFO"));
        let v = Value::Object(obj);
        let line = if pretty { serde_json::to_string_pretty(&v).unwrap().replace('\n', " ") } else { v.to_string() };
        let out = red(&line);
        let back: Value = serde_json::from_str(&out).map_err(|e| TestCaseError::fail(format!("{e}: {out}\n  in: {line}")))?;
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        prop_assert_eq!(keys(&back), keys(&v));
        prop_assert_eq!(&back["level"], "INFO");
        for s in &secrets {
            assert_gone(&out, s, &line);
        }
    }

    /// Random and mutated input never panics, and redaction is idempotent.
    #[test]
    fn mutated_lines_do_not_panic(
        line in proptest::sample::select(LINES),
        edits in proptest::collection::vec((any::<usize>(), 0u8..3, proptest::sample::select(HOSTILE_BITS), 0usize..40), 0..16),
        tail in "\\PC{0,40}",
    ) {
        let mut s = line.to_owned();
        for (at, op, bit, len) in edits {
            let i = boundary(&s, at);
            match op {
                0 => s.insert_str(i, bit),
                1 => { let j = boundary(&s[i..], len) + i; s.replace_range(i..j, ""); }
                _ => { let j = boundary(&s[i..], len) + i; let dup = s[i..j].to_owned(); s.insert_str(j, &dup); }
            }
        }
        s.push_str(&tail);
        let once = red(&s);
        let mut c = RedactionCounts::default();
        prop_assert!(matches!(redact(&once, &mut c), std::borrow::Cow::Borrowed(_)), "not idempotent: {:?}", s);
        let _ = classify(&s);
        let mut j = Journal::new(Config::default());
        j.observe("error", &s, 1);
        let r = Report::build(&j, Context::default(), true, 1);
        let json = serde_json::to_string(&r).unwrap();
        prop_assert!(serde_json::from_str::<Value>(&json).is_ok());
    }

    /// Identifiers survive, also on the lines next to a planted secret.
    #[test]
    fn identifiers_survive(
        ids in proptest::collection::vec(proptest::sample::select(IDS), 1..5),
        line in proptest::sample::select(LINES),
        (frag, _) in plant(),
    ) {
        let id_line = ids.join(" ");
        let input = format!("{line}\n{}\n{id_line}\n{frag}\n{id_line} {line}", KE1_BODY);
        let out = red(&input);
        for id in &ids {
            prop_assert!(out.matches(id).count() >= 2, "{} lost in {:?}", id, out);
        }
    }

    /// What the journal stores of a matching line: the message has no secret.
    #[test]
    fn stored_messages_have_no_secret(
        (frag, secret) in plant(),
        line in proptest::sample::select(&LINES[..7]),
        seed in any::<usize>(),
    ) {
        let input = insert(line, &frag, seed, " ");
        let mut j = Journal::new(Config::default());
        if let Some(e) = j.observe("error", &input, 1) {
            assert_gone(&e.message, &secret, &input);
        }
    }
}

proptest! {
    #![proptest_config(cfg(256))]

    /// Everything stored or exported: fields, and the whole report JSON.
    #[test]
    fn stored_fields_and_report_have_no_secret(
        (frag, secret) in plant(),
        line in proptest::sample::select(&LINES[..7]),
        seed in any::<usize>(),
    ) {
        let input = insert(line, &frag, seed, " ");
        let mut j = Journal::new(Config::default());
        let Some(e) = j.observe("error", &input, 1) else { return Ok(()) };
        assert_gone(&serde_json::to_string(&e.fields).unwrap(), &secret, &input);
        let r = Report::build(&j, Context::default(), true, 1);
        assert_gone(&serde_json::to_string(&r).unwrap(), &secret, &input);
    }
}

/// A secret inside a KE-4 line's `cause` field: the stored field must lose it too.
#[test]
fn ke4_cause_field_is_redacted() {
    let line = r#"MatrixRTC: Reached maximum (10) retries cause by: Error: POST https://hs.example/_matrix/client/v3/delayed_events?access_token=Zk3qP9xVb2LmN7sT4wRyE6uH failed; {"password":"hunter2"}"#;
    let mut j = Journal::new(Config::default());
    let e = j.observe("error", line, 1).expect("KE-4 line matches");
    let fields = serde_json::to_string(&e.fields).unwrap();
    assert!(!fields.contains("Zk3qP9xVb2LmN7sT4wRyE6uH") && !fields.contains("hunter2"), "{fields}");
}

/// Found by the property suite: a keyword's quoted "value" that is really the
/// next secret key must not hide that key's value.
#[test]
fn a_value_that_is_a_key_does_not_hide_the_next_secret() {
    let input =
        r#"{"k0":"[Some(==%3D[REDACTED:\u0000\\u00e9🙂password=b' {'refresh_token': 'Q02YAoQ+Ub+%X2Z5J^7*509z'} [Some(","level":"INFO"}"#;
    let out = redact(input, &mut RedactionCounts::default());
    assert!(!out.contains("Q02YAoQ+"), "{out}");
    assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok(), "{out}");
}

/// Work (the scanner's step count, not wall time) for `piece` repeated to
/// about `len` bytes.
fn steps(piece: &str, len: usize) -> u64 {
    let s = piece.repeat(len / piece.len().max(1) + 1);
    crypto_health_core::evidence::redact::redact_steps(&s).1
}

/// Doubling the input at most about doubles the work, for every family the
/// suite generates (every planted shape, every hostile fragment, every line)
/// and the pattern that made the old scanner quadratic, at sizes well above
/// every lookahead cap. Prints the worst.
#[test]
fn work_grows_linearly_for_every_family() {
    let mut families: Vec<(String, String)> = Vec::new();
    let mut runner = proptest::test_runner::TestRunner::new(cfg(1));
    for _ in 0..400 {
        let (frag, _) = plant().new_tree(&mut runner).expect("a plant").current();
        families.push(("plant".into(), frag));
    }
    families.extend(HOSTILE_BITS.iter().map(|b| ("bit".to_owned(), (*b).to_owned())));
    families.extend(LINES.iter().map(|l| ("line".to_owned(), (*l).to_owned())));
    families.push(("quadratic".into(), "password=\"a ".into()));
    families.push(("values that are keys".into(), "\"password\": ".into()));
    families.push(("unclosed pem".into(), "-----BEGIN A-----x".into()));
    families.push(("quadratic tail".into(), format!("{}password\":1", "password=\"a ".repeat(1000))));
    let mut worst = (0.0f64, String::new());
    for (what, piece) in &families {
        let (a, b) = (steps(piece, 256 * 1024), steps(piece, 512 * 1024));
        let g = b as f64 / a.max(1) as f64;
        if g > worst.0 {
            worst = (g, format!("{what}: {piece:?}"));
        }
        // Linear is 2; where a 64 KiB cap falls in the input moves it a little, a quadratic scanner gives 4.
        assert!(g <= 2.5, "{what} {piece:?}: twice the input cost {g:.2}x the work ({a} -> {b} steps)");
    }
    // Steps per byte stay small too: a constant, whatever the family.
    let per_byte = families.iter().map(|(_, p)| steps(p, 256 * 1024) as f64 / (256.0 * 1024.0)).fold(0.0, f64::max);
    println!(
        "redaction growth: {} families, worst doubling {:.3}x ({}), at most {per_byte:.1} steps/byte",
        families.len(),
        worst.0,
        worst.1
    );
    assert!(per_byte < 64.0, "{per_byte} steps per byte");
}
