//! `acquireTabGuard`'s options, checked at the boundary: each JS value is read
//! once (its `typeof`, no getter run twice), absent fields take defaults, and a
//! wrong one is an [`OptionError`], the rejection's message. Also where the
//! lock's default user and device come from: Cinny's session keys.

use std::fmt;

/// One option as the browser side found it (`typeof`, read without running
/// the app's code more than one property read; a throwing getter is `Absent`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    Absent,
    Str(String),
    Number(f64),
    Bool(bool),
    Function,
    Other,
}

/// The options' callbacks, in the order they are checked.
pub(crate) const CALLBACKS: [&str; 4] = ["onPrimary", "onSecondary", "onStolen", "onPrimaryGone"];

/// `acquireTabGuard`'s options, checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Options {
    pub(crate) user_id: Option<String>,
    pub(crate) device_id: Option<String>,
    pub(crate) auto_takeover: bool,
    /// 0: do not wait for a holder that is leaving.
    pub(crate) timeout_ms: u32,
}

/// Why the options were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OptionError {
    /// `options` is neither absent nor an object.
    NotAnObject,
    /// `userId` / `deviceId` is not a string.
    NotAString(&'static str),
    /// A callback is not a function.
    NotAFunction(&'static str),
    /// `timeoutMs` is not a finite number >= 0.
    BadTimeout,
    /// `autoTakeover` is not a boolean.
    NotABoolean,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("acquireTabGuard: ")?;
        match self {
            OptionError::NotAnObject => f.write_str("options must be an object"),
            OptionError::NotAString(k) => write!(f, "{k} must be a string"),
            OptionError::NotAFunction(k) => write!(f, "{k} must be a function"),
            OptionError::BadTimeout => f.write_str("timeoutMs must be a number >= 0"),
            OptionError::NotABoolean => f.write_str("autoTakeover must be a boolean"),
        }
    }
}

/// Check `acquireTabGuard`'s options: `whole` is the argument itself
/// (`Absent` for undefined/null, `Other` for an object), `get` reads one
/// field. Absent fields take defaults.
pub(crate) fn check_options(whole: &Arg, mut get: impl FnMut(&str) -> Arg) -> Result<Options, OptionError> {
    match whole {
        Arg::Absent => return Ok(Options::default()),
        Arg::Other => {}
        _ => return Err(OptionError::NotAnObject),
    }
    let mut o = Options::default();
    for k in ["userId", "deviceId"] {
        match get(k) {
            Arg::Absent => {}
            Arg::Str(s) if k == "userId" => o.user_id = Some(s),
            Arg::Str(s) => o.device_id = Some(s),
            _ => return Err(OptionError::NotAString(k)),
        }
    }
    for k in CALLBACKS {
        if !matches!(get(k), Arg::Absent | Arg::Function) {
            return Err(OptionError::NotAFunction(k));
        }
    }
    match get("timeoutMs") {
        Arg::Absent => {}
        Arg::Number(t) if t.is_finite() && t >= 0.0 => o.timeout_ms = if t >= u32::MAX as f64 { u32::MAX } else { t as u32 },
        _ => return Err(OptionError::BadTimeout),
    }
    match get("autoTakeover") {
        Arg::Absent => {}
        Arg::Bool(b) => o.auto_takeover = b,
        _ => return Err(OptionError::NotABoolean),
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    fn opts(fields: &[(&str, Arg)]) -> Result<Options, String> {
        check_options(&Arg::Other, |k| fields.iter().find(|(f, _)| *f == k).map_or(Arg::Absent, |(_, v)| v.clone()))
            .map_err(|e| e.to_string())
    }

    fn check_whole(whole: Arg) -> Result<Options, String> {
        check_options(&whole, |_| Arg::Absent).map_err(|e| e.to_string())
    }

    #[wasm_bindgen_test]
    fn options_are_checked_with_the_documented_messages() {
        assert_eq!(check_options(&Arg::Absent, |_| unreachable!()), Ok(Options::default()));
        assert_eq!(check_whole(Arg::Str("primary".into())).unwrap_err(), "acquireTabGuard: options must be an object");
        assert_eq!(check_whole(Arg::Function).unwrap_err(), "acquireTabGuard: options must be an object");
        assert_eq!(opts(&[("userId", Arg::Number(5.0))]).unwrap_err(), "acquireTabGuard: userId must be a string");
        assert_eq!(opts(&[("deviceId", Arg::Bool(true))]).unwrap_err(), "acquireTabGuard: deviceId must be a string");
        assert_eq!(opts(&[("onStolen", Arg::Str("no".into()))]).unwrap_err(), "acquireTabGuard: onStolen must be a function");
        assert_eq!(opts(&[("onPrimaryGone", Arg::Other)]).unwrap_err(), "acquireTabGuard: onPrimaryGone must be a function");
        for t in [-1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(opts(&[("timeoutMs", Arg::Number(t))]).unwrap_err(), "acquireTabGuard: timeoutMs must be a number >= 0");
        }
        assert_eq!(opts(&[("timeoutMs", Arg::Str("5".into()))]).unwrap_err(), "acquireTabGuard: timeoutMs must be a number >= 0");
        assert_eq!(opts(&[("autoTakeover", Arg::Str("yes".into()))]).unwrap_err(), "acquireTabGuard: autoTakeover must be a boolean");
        let ok = opts(&[
            ("userId", Arg::Str("@a:hs".into())),
            ("deviceId", Arg::Str("DEV".into())),
            ("onPrimary", Arg::Function),
            ("timeoutMs", Arg::Number(250.7)),
            ("autoTakeover", Arg::Bool(true)),
        ])
        .unwrap();
        assert_eq!(ok, Options { user_id: Some("@a:hs".into()), device_id: Some("DEV".into()), auto_takeover: true, timeout_ms: 250 });
        assert_eq!(opts(&[("timeoutMs", Arg::Number(1e300))]).unwrap().timeout_ms, u32::MAX);
    }
}
