//! Crypto-store consistency: a session that outlived its crypto store.
//!
//! Element Web's `checkConsistency` notices "session in localStorage, crypto
//! IndexedDB gone". We also say which store is missing, whether we saw it
//! before (so eviction is certain rather than suspected) and when we checked.

use crate::evidence::signature::Class;
use crate::report::finding::{Finding, Level};
use crate::support::obj;
use crate::support::text::iso8601;

/// IndexedDB names used by matrix-js-sdk with rust crypto (cinnyapp/cinny vite.config.js, src/client/initMatrix.ts).
pub const RUST_CRYPTO_DB: &str = "matrix-js-sdk::matrix-sdk-crypto";
pub const RUST_CRYPTO_META_DB: &str = "matrix-js-sdk::matrix-sdk-crypto-meta";
pub const SYNC_DB: &str = "matrix-js-sdk:web-sync-store";
/// The legacy (pre-rust) crypto store as Cinny names it (cinnyapp/cinny vite.config.js, src/client/initMatrix.ts).
pub const LEGACY_CRYPTO_DB: &str = "crypto-store";
pub const KNOWN_DATABASES: [&str; 4] = [RUST_CRYPTO_DB, RUST_CRYPTO_META_DB, SYNC_DB, LEGACY_CRYPTO_DB];
/// matrix-js-sdk's default `cryptoDatabasePrefix` (`initRustCrypto`): rust crypto names its stores
/// `<prefix>::matrix-sdk-crypto` and `<prefix>::matrix-sdk-crypto-meta`.
pub const DEFAULT_PREFIX: &str = "matrix-js-sdk";
const MAIN_SUFFIX: &str = "::matrix-sdk-crypto";
const META_SUFFIX: &str = "::matrix-sdk-crypto-meta";

/// Which rust crypto store belongs to a session. Forks pass their own `cryptoDatabasePrefix`
/// (Sable: `sync<userId>`), so the name is found rather than assumed: the one remembered for
/// this session, else a store whose prefix holds the user id, else matrix-js-sdk's default.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreName {
    pub prefix: String,
}

impl Default for StoreName {
    fn default() -> Self {
        StoreName { prefix: DEFAULT_PREFIX.into() }
    }
}

impl StoreName {
    /// The main store's database name.
    pub fn main(&self) -> String {
        format!("{}{MAIN_SUFFIX}", self.prefix)
    }

    /// The `-meta` store's database name.
    pub fn meta(&self) -> String {
        format!("{}{META_SUFFIX}", self.prefix)
    }

    /// The session's store among `databases`, given the prefix remembered for it (if any).
    pub fn resolve(databases: Option<&[String]>, user_id: Option<&str>, remembered: Option<&str>) -> StoreName {
        if let Some(prefix) = remembered.filter(|p| !p.is_empty()) {
            return StoreName { prefix: prefix.into() };
        }
        let mut own: Option<&str> = None;
        for name in databases.unwrap_or_default() {
            let Some(prefix) = name.strip_suffix(MAIN_SUFFIX) else { continue };
            if user_id.is_some_and(|u| !u.is_empty() && prefix.contains(u)) && own.is_none_or(|o| prefix < o) {
                own = Some(prefix);
            }
        }
        StoreName { prefix: own.unwrap_or(DEFAULT_PREFIX).into() }
    }
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreFacts {
    /// A logged-in session is in localStorage (access token + device id).
    pub session_present: bool,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    /// Database names that exist; `None` when they cannot be listed
    /// (no IndexedDB, or no `indexedDB.databases()`).
    pub databases: Option<Vec<String>>,
    /// When crypto-health last saw the rust crypto store for this session.
    pub store_seen_at: Option<u64>,
    pub persisted: Option<bool>,
    pub checked_at: u64,
    /// The session's rust crypto store.
    pub store: StoreName,
}

impl StoreFacts {
    pub fn has(&self, name: &str) -> Option<bool> {
        self.databases.as_ref().map(|d| d.iter().any(|n| n == name))
    }
}

/// The finding for a session whose crypto store is missing, if that is the case.
pub fn assess(f: &StoreFacts) -> Option<Finding> {
    if !f.session_present {
        return None;
    }
    let (main_db, meta_db) = (f.store.main(), f.store.meta());
    let main = f.has(&main_db)?;
    // The `-meta` store only exists when the app passes a storage key or
    // password (matrix-js-sdk 43 without one creates none): its absence alone
    // is normal, and is only reported next to a missing main store.
    if main {
        return None;
    }
    let meta = f.has(&meta_db).unwrap_or(false);
    // The main store is missing (see above); the `-meta` one may be too.
    let (missing, absent) = if meta {
        (vec![main_db.clone()], format!("{main_db} is"))
    } else {
        (vec![main_db.clone(), meta_db.clone()], format!("{main_db} and {meta_db} are"))
    };
    let who = format!("{} (device {})", f.user_id.as_deref().unwrap_or("unknown user"), f.device_id.as_deref().unwrap_or("unknown"));
    let seen = f.store_seen_at.map(iso8601);
    let (level, title) = match &seen {
        Some(_) => (Level::Critical, "crypto store evicted: KE-1 will follow"),
        None => (Level::Warning, "crypto store missing for a live session: KE-1 will follow if it was evicted"),
    };
    let when = match &seen {
        Some(t) => format!("It was present at {t} and is gone at {}.", iso8601(f.checked_at)),
        None => format!("Checked at {}; crypto-health had not seen it before on this browser.", iso8601(f.checked_at)),
    };
    let persisted = match f.persisted {
        Some(true) => "Storage is persisted, so this was not ordinary eviction: a reset or manual clear is likelier.",
        Some(false) => "Storage is not persisted: the browser may evict it under pressure.",
        None => "Whether storage is persisted is unknown.",
    };
    let detail = format!("The session for {who} is in localStorage but IndexedDB {absent} absent. {when} {persisted} When the client starts it will create a new Olm account under the old device id; Synapse still holds \
         the old one-time keys and will answer keys/upload with 400 \"One time key … already exists\" (KE-1), \
         after first replacing the device's identity keys. Make sure key backup is on, then log out and back in \
         to get a new device.");
    Some(Finding {
        id: "crypto_store_missing".into(),
        ke: Some(Class::Ke1),
        level,
        title: title.into(),
        detail,
        ts: f.checked_at,
        at: iso8601(f.checked_at),
        evidence: obj!({ "missingDatabases": missing, "presentDatabases": f.databases.clone(), "storeSeenAt": seen, "persisted": f.persisted, "userId": f.user_id.clone(), "deviceId": f.device_id.clone() }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(dbs: Option<&[&str]>) -> StoreFacts {
        StoreFacts {
            session_present: true,
            user_id: Some("@a:hs".into()),
            device_id: Some("DEV".into()),
            databases: dbs.map(|d| d.iter().map(|s| s.to_string()).collect()),
            store_seen_at: None,
            persisted: Some(false),
            checked_at: 1_000,
            store: StoreName::default(),
        }
    }

    #[test]
    fn healthy_store_has_no_finding() {
        assert_eq!(assess(&facts(Some(&[RUST_CRYPTO_DB, RUST_CRYPTO_META_DB, SYNC_DB]))), None);
    }

    #[test]
    fn main_store_without_meta_is_healthy() {
        // matrix-js-sdk 43 without a storage key creates no `-meta` store (seen in the e2e run).
        assert_eq!(assess(&facts(Some(&[RUST_CRYPTO_DB, SYNC_DB]))), None);
    }

    #[test]
    fn no_session_no_finding() {
        let mut f = facts(Some(&[]));
        f.session_present = false;
        assert_eq!(assess(&f), None);
    }

    #[test]
    fn cannot_list_databases_says_nothing() {
        assert_eq!(assess(&facts(None)), None);
    }

    #[test]
    fn missing_store_never_seen_is_a_warning_naming_the_store() {
        let f = assess(&facts(Some(&[SYNC_DB]))).unwrap();
        assert_eq!(f.level, Level::Warning);
        assert!(f.detail.contains(RUST_CRYPTO_DB), "{}", f.detail);
        assert!(f.detail.contains("@a:hs (device DEV)"));
        assert_eq!(f.evidence["missingDatabases"][0], RUST_CRYPTO_DB);
    }

    #[test]
    fn missing_store_seen_before_is_critical_eviction() {
        let mut fa = facts(Some(&[SYNC_DB]));
        fa.store_seen_at = Some(500);
        let f = assess(&fa).unwrap();
        assert_eq!(f.level, Level::Critical);
        assert_eq!(f.title, "crypto store evicted: KE-1 will follow");
        assert!(f.detail.contains("1970-01-01T00:00:00.500Z"));
    }

    #[test]
    fn a_forks_own_store_is_found_by_its_user_and_checked() {
        // Sable passes cryptoDatabasePrefix `sync<userId>` (src/app/state/sessions.ts getSessionStoreName).
        let own = "sync@a:hs::matrix-sdk-crypto".to_owned();
        let dbs = vec![own.clone(), "sync@a:hs".into(), "sync@other:hs::matrix-sdk-crypto".into()];
        let name = StoreName::resolve(Some(&dbs), Some("@a:hs"), None);
        assert_eq!(name.main(), own);
        let mut f = facts(Some(&[]));
        f.databases = Some(dbs);
        f.store = name.clone();
        assert_eq!(assess(&f), None, "present under its own name");
        f.databases = Some(vec!["sync@a:hs".into()]);
        let found = assess(&f).unwrap();
        assert_eq!(found.evidence["missingDatabases"][0], own);
        assert!(found.detail.contains("sync@a:hs::matrix-sdk-crypto-meta"), "{}", found.detail);
    }

    #[test]
    fn the_remembered_name_wins_and_the_default_is_the_fallback() {
        let dbs = vec!["x@a:hs::matrix-sdk-crypto".to_owned()];
        assert_eq!(StoreName::resolve(Some(&dbs), Some("@a:hs"), Some("sync@a:hs")).prefix, "sync@a:hs");
        assert_eq!(StoreName::resolve(Some(&dbs), Some("@b:hs"), None), StoreName::default(), "another user's store is not this session's");
        assert_eq!(StoreName::resolve(None, Some("@a:hs"), None).main(), RUST_CRYPTO_DB);
        assert_eq!(StoreName::resolve(Some(&dbs), None, Some("")).main(), RUST_CRYPTO_DB, "no user, nothing remembered");
    }
}
