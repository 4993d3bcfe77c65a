//! The logged-in session as a Cinny-family app keeps it in localStorage.
//!
//! Upstream Cinny (cinnyapp/cinny src/app/state/sessions.ts, its "fallback session") writes four
//! keys: `cinny_access_token`, `cinny_device_id`, `cinny_user_id`, `cinny_hs_base_url`. Its
//! multi-account forks keep a `matrixSessions` JSON list of `{ baseUrl, userId, deviceId,
//! accessToken, … }` instead; the active one is named by `matrixActiveSession` (a JSON string,
//! Sable's `ACTIVE_SESSION_KEY`) or is the first. Of the token only its presence is kept.

use serde_json::Value;

/// Upstream Cinny's session keys (the access token's presence only).
pub const CINNY_ACCESS_TOKEN: &str = "cinny_access_token";
/// Upstream Cinny's device id.
pub const CINNY_DEVICE_ID: &str = "cinny_device_id";
/// Upstream Cinny's user id.
pub const CINNY_USER_ID: &str = "cinny_user_id";
/// Upstream Cinny's homeserver base URL.
pub const CINNY_HOMESERVER: &str = "cinny_hs_base_url";
/// The forks' session list (a JSON array).
pub const SESSIONS_LIST: &str = "matrixSessions";
/// The forks' active session (a JSON string: its user id).
pub const ACTIVE_SESSION: &str = "matrixActiveSession";
/// A session list longer than this is not a session list: it is not parsed.
const MAX_LIST_BYTES: usize = 256 * 1024;

/// The session, without its token.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    /// localStorage could be read at all.
    pub available: bool,
    /// An access token and a device id are both there.
    pub present: bool,
    /// The session's Matrix user id.
    pub user_id: Option<String>,
    /// The session's device id.
    pub device_id: Option<String>,
    /// The homeserver's base URL.
    pub homeserver: Option<String>,
}

impl Session {
    /// The session from a localStorage reader (`get(key)` is `getItem`); only called when
    /// localStorage is readable.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Session {
        let token = get(CINNY_ACCESS_TOKEN).is_some();
        let device_id = get(CINNY_DEVICE_ID);
        if token || device_id.is_some() {
            return Session {
                available: true,
                present: token && device_id.is_some(),
                user_id: get(CINNY_USER_ID),
                device_id,
                homeserver: get(CINNY_HOMESERVER),
            };
        }
        let listed = get(SESSIONS_LIST).and_then(|list| Self::from_list(&list, get(ACTIVE_SESSION).as_deref()));
        listed.unwrap_or(Session { available: true, ..Session::default() })
    }

    /// The entry of a `matrixSessions` list that `matrixActiveSession` names, else the first.
    fn from_list(text: &str, active: Option<&str>) -> Option<Session> {
        if text.len() > MAX_LIST_BYTES {
            return None;
        }
        // Read as a JSON value (the parser the package has anyway); the token's text is
        // dropped with it, only its presence is kept.
        let list: Value = serde_json::from_str(text).ok()?;
        let list = list.as_array()?;
        // atomWithLocalStorage stores JSON.stringify(userId); a raw id is read as is.
        let active = active.map(|a| a.strip_prefix('"').and_then(|a| a.strip_suffix('"')).unwrap_or(a));
        let field = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        let named = active.and_then(|a| list.iter().find(|e| e.get("userId").and_then(Value::as_str) == Some(a)));
        let e = named.or(list.first())?;
        let device_id = field(e, "deviceId");
        Some(Session {
            available: true,
            present: field(e, "accessToken").is_some() && device_id.is_some(),
            user_id: field(e, "userId"),
            device_id,
            homeserver: field(e, "baseUrl"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Session {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Session::read(|k| map.get(k).cloned())
    }

    #[test]
    fn upstream_cinny_keys() {
        let s =
            read(&[(CINNY_ACCESS_TOKEN, "syt_x"), (CINNY_DEVICE_ID, "DEV"), (CINNY_USER_ID, "@a:hs"), (CINNY_HOMESERVER, "https://hs")]);
        assert_eq!(
            (s.present, s.user_id.as_deref(), s.device_id.as_deref(), s.homeserver.as_deref()),
            (true, Some("@a:hs"), Some("DEV"), Some("https://hs"))
        );
        assert_eq!(s.homeserver.as_deref(), Some("https://hs"));
    }

    #[test]
    fn a_device_without_a_token_is_no_session() {
        let s = read(&[(CINNY_DEVICE_ID, "DEV"), (CINNY_USER_ID, "@a:hs")]);
        assert!(!s.present);
        assert_eq!(s.device_id.as_deref(), Some("DEV"));
    }

    #[test]
    fn a_forks_session_list_first_entry() {
        // The 4.8.1-based call fork's src/client/action/auth.ts writes one entry.
        let list = r#"[{"accessToken":"syt_secret","deviceId":"DEV","userId":"@a:hs","baseUrl":"https://hs","fallbackSdkStores":false}]"#;
        let s = read(&[(SESSIONS_LIST, list)]);
        assert_eq!(
            (s.present, s.user_id.as_deref(), s.device_id.as_deref(), s.homeserver.as_deref()),
            (true, Some("@a:hs"), Some("DEV"), Some("https://hs"))
        );
        assert!(!format!("{s:?}").contains("syt_secret"), "the token is not kept");
    }

    #[test]
    fn the_active_session_is_the_one_named() {
        let list = r#"[{"accessToken":"t1","deviceId":"D1","userId":"@a:hs"},{"accessToken":"t2","deviceId":"D2","userId":"@b:hs"}]"#;
        assert_eq!(read(&[(SESSIONS_LIST, list), (ACTIVE_SESSION, "\"@b:hs\"")]).device_id.as_deref(), Some("D2"));
        assert_eq!(read(&[(SESSIONS_LIST, list), (ACTIVE_SESSION, "@b:hs")]).device_id.as_deref(), Some("D2"), "raw id");
        assert_eq!(read(&[(SESSIONS_LIST, list), (ACTIVE_SESSION, "\"@gone:hs\"")]).device_id.as_deref(), Some("D1"), "unknown: the first");
    }

    #[test]
    fn cinny_keys_win_over_a_list() {
        let list = r#"[{"accessToken":"t","deviceId":"LISTED","userId":"@b:hs"}]"#;
        let s = read(&[(SESSIONS_LIST, list), (CINNY_ACCESS_TOKEN, "t"), (CINNY_DEVICE_ID, "DEV"), (CINNY_USER_ID, "@a:hs")]);
        assert_eq!(s.device_id.as_deref(), Some("DEV"));
    }

    #[test]
    fn odd_lists_are_no_session_and_never_panic() {
        for list in [
            "",
            "null",
            "{}",
            "[]",
            "[1,2]",
            "not json",
            "[{\"userId\":",
            "[{\"accessToken\":null,\"deviceId\":\"D\"}]",
            "[{\"accessToken\":\"\",\"deviceId\":\"D\"}]",
        ] {
            let s = read(&[(SESSIONS_LIST, list)]);
            assert!(!s.present, "{list}: {s:?}");
            assert!(s.available);
        }
        // An odd field loses that field, not the entry.
        let s = read(&[(SESSIONS_LIST, r#"[{"accessToken":"t","deviceId":"D","userId":7}]"#)]);
        assert_eq!((s.present, s.user_id), (true, None));
        let huge = format!("[{}]", "{\"accessToken\":\"t\",\"deviceId\":\"D\"},".repeat(MAX_LIST_BYTES / 30) + "{}");
        assert!(!read(&[(SESSIONS_LIST, &huge)]).present, "not parsed at all");
    }
}
