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
    let main = f.has(RUST_CRYPTO_DB)?;
    // The `-meta` store only exists when the app passes a storage key or
    // password (matrix-js-sdk 43 without one creates none): its absence alone
    // is normal, and is only reported next to a missing main store.
    if main {
        return None;
    }
    let meta = f.has(RUST_CRYPTO_META_DB).unwrap_or(false);
    // The main store is missing (see above); the `-meta` one may be too.
    let (missing, absent): (&[&str], _) = if meta {
        (&[RUST_CRYPTO_DB], format!("{RUST_CRYPTO_DB} is"))
    } else {
        (&[RUST_CRYPTO_DB, RUST_CRYPTO_META_DB], format!("{RUST_CRYPTO_DB} and {RUST_CRYPTO_META_DB} are"))
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
        evidence: obj!({ "missingDatabases": missing.to_vec(), "presentDatabases": f.databases.clone(), "storeSeenAt": seen, "persisted": f.persisted, "userId": f.user_id.clone(), "deviceId": f.device_id.clone() }),
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
}
