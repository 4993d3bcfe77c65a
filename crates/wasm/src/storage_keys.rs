//! Every localStorage key this package writes, in one place: what crypto-health
//! remembers across page loads. The app's session keys it only reads are the
//! core's (`environment::session`, never the token's value). The tab guard's lease names are the core's
//! (`tab_guard::Scope`): they are part of how tabs agree.

/// What the core remembers about a device (`DeviceMemory`: its identity key seen in uploads).
pub(crate) fn device_memory(user: &str, device: &str) -> String {
    format!("crypto-health:device:{user}|{device}")
}

/// When the rust crypto store was last seen for a session (Unix ms): its absence later is an eviction.
pub(crate) fn store_seen(user: Option<&str>, device: Option<&str>) -> String {
    format!("crypto-health:store-seen:{}|{}", user.unwrap_or(""), device.unwrap_or(""))
}

/// The rust crypto store's `cryptoDatabasePrefix` for a session, as first seen: a fork's own
/// name is then looked for after an eviction too.
pub(crate) fn store_prefix(user: Option<&str>, device: Option<&str>) -> String {
    format!("crypto-health:store-prefix:{}|{}", user.unwrap_or(""), device.unwrap_or(""))
}

/// When the session's crypto store was found evicted (Unix ms): later page loads, where rust
/// crypto has re-created it under the same device, still report the cause.
pub(crate) fn store_evicted(user: Option<&str>, device: Option<&str>) -> String {
    format!("crypto-health:store-evicted:{}|{}", user.unwrap_or(""), device.unwrap_or(""))
}
