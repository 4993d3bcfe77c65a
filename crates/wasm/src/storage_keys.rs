//! Every localStorage key this package reads or writes, in one place: Cinny's
//! session (read only, never the token's value) and what crypto-health
//! remembers across page loads. The tab guard's lease names are the core's
//! (`tab_guard::Scope`): they are part of how tabs agree.

/// Cinny's session keys: the access token (only its presence is read).
pub(crate) const SESSION_ACCESS_TOKEN: &str = "cinny_access_token";
/// Cinny's device id.
pub(crate) const SESSION_DEVICE_ID: &str = "cinny_device_id";
/// Cinny's user id.
pub(crate) const SESSION_USER_ID: &str = "cinny_user_id";
/// Cinny's homeserver base URL.
pub(crate) const SESSION_HOMESERVER: &str = "cinny_hs_base_url";

/// What the core remembers about a device (`DeviceMemory`: its identity key seen in uploads).
pub(crate) fn device_memory(user: &str, device: &str) -> String {
    format!("crypto-health:device:{user}|{device}")
}

/// When the rust crypto store was last seen for a session (Unix ms): its absence later is an eviction.
pub(crate) fn store_seen(user: Option<&str>, device: Option<&str>) -> String {
    format!("crypto-health:store-seen:{}|{}", user.unwrap_or(""), device.unwrap_or(""))
}
