//! A libpq connection string (`postgresql://…` URL or `host=… dbname=…` key/value), resolved the
//! way libpq resolves it: the `PG*` environment variables fill what the string leaves out, and a
//! missing password comes from `PGPASSWORD`, else the password file (`PGPASSFILE` or `~/.pgpass`).
//!
//! The `postgres` crate parses the string but reads neither the environment nor the password
//! file, and knows `sslmode` only up to `require`: that part of libpq's behaviour is done here
//! (libpq: src/interfaces/libpq/fe-connect.c, `passwordFromFile`, `conninfo_add_defaults`).
//! The password is kept only inside the `postgres::Config`; nothing here ever prints it.

use super::error::DbError;
use postgres::config::{Host, SslMode};
use postgres::Config;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How far the server's certificate is checked (libpq's `sslmode` beyond on/off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verify {
    /// `disable`, `allow`, `prefer`, `require`: encrypt if asked, check nothing (libpq does the same
    /// unless a root certificate file is given).
    None,
    /// `verify-ca`: the chain must lead to a trusted root.
    Ca,
    /// `verify-full`: the chain and the host name.
    Full,
}

pub(crate) struct ConnInfo {
    pub config: Config,
    pub verify: Verify,
    pub root_cert: Option<PathBuf>,
    /// `user@host:port/dbname`, never the password.
    pub label: String,
    /// Where the password came from (`connection string`, `PGPASSWORD`, `password file`), for errors.
    pub password_from: Option<&'static str>,
}

/// libpq's compiled-in socket directory on Debian, then the upstream default.
const SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Remove `key=value` from a URL query or a key/value string; returns the value.
fn take_param(spec: &mut String, key: &str) -> Option<String> {
    let needle = format!("{key}=");
    let mut from = 0;
    while let Some(off) = spec[from..].find(&needle) {
        let at = from + off;
        let boundary = at == 0 || matches!(spec.as_bytes()[at - 1], b'?' | b'&' | b' ' | b'\t' | b'\n');
        if !boundary {
            from = at + needle.len();
            continue;
        }
        let vstart = at + needle.len();
        let vend = spec[vstart..].find(['&', ' ', '\t', '\n']).map_or(spec.len(), |e| vstart + e);
        let value = spec[vstart..vend].trim_matches('\'').to_string();
        // Drop the pair and one separator after it (or the `&`/`?` before it at the end).
        let mut end = vend;
        let mut start = at;
        if end < spec.len() {
            end += 1;
        } else if start > 0 && matches!(spec.as_bytes()[start - 1], b'&' | b' ') {
            start -= 1;
        }
        spec.replace_range(start..end, "");
        if spec.ends_with('?') {
            spec.pop();
        }
        return Some(value);
    }
    None
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

pub(crate) fn resolve(spec: &str) -> Result<ConnInfo, DbError> {
    let mut s = spec.trim().to_string();
    let sslmode = take_param(&mut s, "sslmode").or_else(|| env("PGSSLMODE"));
    let root_cert = take_param(&mut s, "sslrootcert").or_else(|| env("PGSSLROOTCERT")).map(PathBuf::from);
    let (mode, verify) = match sslmode.as_deref().unwrap_or("prefer") {
        "disable" => (SslMode::Disable, Verify::None),
        "allow" | "prefer" => (SslMode::Prefer, Verify::None),
        "require" => (SslMode::Require, Verify::None),
        "verify-ca" => (SslMode::Require, Verify::Ca),
        "verify-full" => (SslMode::Require, Verify::Full),
        other => {
            return Err(DbError::Config(format!("sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full")))
        }
    };
    let mut config: Config = s.parse().map_err(|e| DbError::Config(format!("not a PostgreSQL connection string: {e}")))?;
    config.ssl_mode(mode);
    if config.get_hosts().is_empty() {
        match env("PGHOST") {
            Some(h) => {
                for h in h.split(',') {
                    if h.starts_with('/') {
                        config.host_path(h);
                    } else {
                        config.host(h);
                    }
                }
            }
            None => {
                let dir = SOCKET_DIRS.iter().find(|d| Path::new(d).is_dir()).copied().unwrap_or(SOCKET_DIRS[1]);
                config.host_path(dir);
            }
        }
    }
    if config.get_ports().is_empty() {
        let port =
            env("PGPORT").map(|p| p.parse::<u16>().map_err(|_| DbError::Config(format!("PGPORT `{p}` is not a port")))).transpose()?;
        config.port(port.unwrap_or(5432));
    }
    if config.get_user().is_none() {
        let u = env("PGUSER")
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .ok_or_else(|| DbError::Config("no user in the connection string, and neither PGUSER nor USER is set".into()))?;
        config.user(&u);
    }
    if config.get_dbname().is_none() {
        let d = env("PGDATABASE").unwrap_or_else(|| config.get_user().unwrap_or_default().to_string());
        config.dbname(&d);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("crypto-health (read only)");
    }
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => String::new(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or_default().to_string();
    let dbname = config.get_dbname().unwrap_or_default().to_string();
    let mut password_from = config.get_password().map(|_| "the connection string");
    if password_from.is_none() {
        if let Some(p) = env("PGPASSWORD") {
            config.password(p);
            password_from = Some("PGPASSWORD");
        } else if let Some(p) = pgpass_lookup(&host, port, &dbname, &user) {
            config.password(p);
            password_from = Some("the password file");
        }
    }
    Ok(ConnInfo { label: format!("{user}@{host}:{port}/{dbname}"), config, verify, root_cert, password_from })
}

fn pgpass_path() -> Option<PathBuf> {
    env("PGPASSFILE").map(PathBuf::from).or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))
}

/// The first matching line of the password file, as libpq reads it: `host:port:db:user:password`,
/// `*` matches anything, `\` escapes `:` and `\`; a socket directory matches the host `localhost`.
/// A file readable by group or others is ignored (libpq warns and does the same).
fn pgpass_lookup(host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let path = pgpass_path()?;
    let meta = std::fs::metadata(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
            if meta.is_file() {
                eprintln!(
                    "crypto-health: password file {} has group or world access; permissions should be u=rw (0600) or less: ignored",
                    path.display()
                );
            }
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    pgpass_match(&text, host, port, db, user)
}

pub(crate) fn pgpass_match(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let host = if host.is_empty() || host.starts_with('/') { "localhost" } else { host };
    let port = port.to_string();
    let want = [host, port.as_str(), db, user];
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        // Four `:` end the first four fields; the password is the rest of the line.
        let mut fields: Vec<String> = Vec::new();
        let mut field = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => field.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
                c => field.push(c),
            }
        }
        fields.push(field);
        if fields.len() == 5 && want.iter().zip(&fields).all(|(w, f)| f == "*" || f == w) {
            return fields.pop();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_match_like_libpq() {
        let f = "# comment\nother:5432:*:*:nope\nlocalhost:5432:synapse:synapse_ro:s3cr\\:et\\\\x\n*:*:*:*:fallback\n";
        assert_eq!(pgpass_match(f, "/var/run/postgresql", 5432, "synapse", "synapse_ro").as_deref(), Some("s3cr:et\\x"));
        assert_eq!(pgpass_match(f, "localhost", 5432, "synapse", "synapse_ro").as_deref(), Some("s3cr:et\\x"));
        assert_eq!(pgpass_match(f, "db.example", 5433, "synapse", "x").as_deref(), Some("fallback"));
        assert_eq!(pgpass_match("h:1:d:u\n", "h", 1, "d", "u"), None, "a line without a password field is skipped");
    }

    #[test]
    fn take_param_from_urls_and_key_values() {
        let mut s = "postgresql://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem".to_string();
        assert_eq!(take_param(&mut s, "sslmode").as_deref(), Some("verify-full"));
        assert_eq!(take_param(&mut s, "sslrootcert").as_deref(), Some("/ca.pem"));
        assert_eq!(s, "postgresql://u@h/db");
        let mut s = "host=/run/pg dbname=synapse sslmode=require user=ro".to_string();
        assert_eq!(take_param(&mut s, "sslmode").as_deref(), Some("require"));
        assert_eq!(s, "host=/run/pg dbname=synapse user=ro");
        let mut s = "host=h mysslmode=x".to_string();
        assert_eq!(take_param(&mut s, "sslmode"), None);
    }

    #[test]
    fn resolves_without_printing_the_password() {
        let c = resolve("postgresql://ro:hunter2@127.0.0.1:6543/synapse?sslmode=verify-ca").unwrap();
        assert_eq!(c.label, "ro@127.0.0.1:6543/synapse");
        assert_eq!((c.verify, c.config.get_ssl_mode()), (Verify::Ca, SslMode::Require));
        assert_eq!(c.password_from, Some("the connection string"));
        assert!(!c.label.contains("hunter2"));
        let c = resolve("host=/tmp/sock dbname=synapse user=ro sslmode=disable").unwrap();
        assert_eq!(c.label, "ro@/tmp/sock:5432/synapse");
        assert!(resolve("host=h sslmode=bogus").err().unwrap().to_string().contains("sslmode `bogus`"));
        let e = resolve("postgresql://u:pw@h:notaport/db").err().unwrap().to_string();
        assert!(!e.contains("pw@"), "{e}");
    }
}
