//! Redaction of JSON values (extracted fields, finding evidence, what the app
//! hands over as `extra`): a field whose name says it holds a secret goes
//! whole, whatever its type, and every other string is redacted as text and
//! capped, so no stored string escapes either rule.

use crate::evidence::redact::{redact, RedactionCounts, SecretKind};
use crate::support::text::truncate_marked;
use serde_json::Value;
use std::borrow::Cow;

/// Field names whose values are secrets whatever they look like.
fn secret_key(k: &str) -> Option<SecretKind> {
    let k = k.to_ascii_lowercase();
    Some(match k.as_str() {
        "access_token" | "accesstoken" => SecretKind::AccessToken,
        "refresh_token" | "refreshtoken" => SecretKind::RefreshToken,
        "login_token" | "logintoken" | "token" => SecretKind::LoginToken,
        "password" | "new_password" | "newpassword" | "passphrase" => SecretKind::Password,
        "recovery_key" | "recoverykey" => SecretKind::RecoveryKey,
        "authorization" => SecretKind::Authorization,
        _ => return None,
    })
}

/// Redact a JSON value in place (maps keep their order).
pub fn redact_value(v: &mut Value, counts: &mut RedactionCounts) {
    redact_value_capped(v, counts, usize::MAX);
}

/// [`redact_value`], and every string cut to `max` bytes with a visible mark.
pub fn redact_value_capped(v: &mut Value, counts: &mut RedactionCounts, max: usize) {
    match v {
        Value::String(s) => {
            let red = redact(s, counts);
            let (cut, truncated) = truncate_marked(&red, max);
            if truncated || cut != *s {
                *s = cut;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact_value_capped(x, counts, max)),
        Value::Object(m) => {
            // Keys are text too: a parsed Python repr can hold a secret in one
            // (`{'sig Authorization: Bearer …': {}}`).
            let renamed: Vec<(String, String)> = m
                .keys()
                .filter_map(|k| match redact(k, counts) {
                    Cow::Owned(r) => Some((k.clone(), truncate_marked(&r, max).0)),
                    Cow::Borrowed(_) => None,
                })
                .collect();
            for (old, new) in renamed {
                if let Some(x) = m.remove(&old) {
                    m.insert(new, x);
                }
            }
            for (k, x) in m.iter_mut() {
                match secret_key(k) {
                    // Any type: a numeric password is still a password.
                    Some(kind) if !x.is_null() && !x.is_object() && !x.is_array() => {
                        counts.add(kind);
                        *x = Value::String(format!("[REDACTED:{}]", kind.as_str()));
                    }
                    _ => redact_value_capped(x, counts, max),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_go_whole_and_strings_are_redacted_and_capped() {
        let mut c = RedactionCounts::default();
        let mut v = json!({
            "password": 123456,
            "nested": {"access_token": "abc"},
            "cause": format!("POST https://hs/_matrix/client/v3/delayed_events?access_token=Zk3qP9xVb2LmN7sT4wRyE6uH failed {}", "x".repeat(10_000)),
            "user": "@alice:example.org",
        });
        redact_value_capped(&mut v, &mut c, 256);
        let text = v.to_string();
        assert!(!text.contains("123456") && !text.contains("\"abc\"") && !text.contains("Zk3qP9xVb2LmN7sT4wRyE6uH"), "{text}");
        assert!(v["cause"].as_str().unwrap().len() < 400);
        assert_eq!(v["user"], "@alice:example.org");
        assert!(c.total() >= 3);
    }

    #[test]
    fn keys_are_redacted_too() {
        let mut c = RedactionCounts::default();
        let mut v = json!({"next=https://hs/x?access_token=Zk3qP9xVb2LmN7sT4wRyE6uH key": 1, "@alice:example.org": true});
        redact_value_capped(&mut v, &mut c, 4096);
        let text = v.to_string();
        assert!(!text.contains("Zk3qP9xVb2LmN7sT4wRyE6uH") && text.contains("@alice:example.org"), "{text}");
        assert_eq!(c.total(), 1);
    }

    #[test]
    fn secrets_in_keys_are_redacted() {
        let mut c = RedactionCounts::default();
        let mut v = json!({"new_key": {"sig Authorization: Bearer Q7Mp1apfjFuCrMzaVbz753z natures": {}, "key": "bq0K"}});
        redact_value(&mut v, &mut c);
        assert_eq!(v, json!({"new_key": {"sig Authorization: Bearer [REDACTED:authorization] natures": {}, "key": "bq0K"}}));
        assert_eq!(c.get(SecretKind::Authorization), 1);
    }
}
