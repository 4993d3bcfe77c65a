//! What the API throws or rejects with: a JS `Error` whose `message` says what
//! went wrong and whose `code` property is stable (the .d.ts lists the codes
//! as `CryptoHealthErrorCode`), so an app branches on the code, never on the
//! text, as matrix-sdk-crypto-wasm's errors carry a `code`.

use wasm_bindgen::prelude::*;

/// A stable error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    /// An argument or option of the wrong type or range (the caller's bug).
    InvalidArgument,
    /// `takeOverTabGuard` without a live `acquireTabGuard`.
    NotAcquired,
    /// Called from inside one of this package's own calls (e.g. from a callback it is running).
    Reentrant,
    /// The page cannot do it (no document to start a download from).
    Unavailable,
    /// The report could not be written (should not happen; the message says why).
    Internal,
}

impl Code {
    /// Every code (the .d.ts lists each).
    #[cfg(test)]
    const ALL: [Code; 5] = [Code::InvalidArgument, Code::NotAcquired, Code::Reentrant, Code::Unavailable, Code::Internal];

    /// The `code` property's value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::NotAcquired => "TAB_GUARD_NOT_ACQUIRED",
            Code::Reentrant => "REENTRANT_CALL",
            Code::Unavailable => "UNAVAILABLE",
            Code::Internal => "INTERNAL",
        }
    }
}

/// A JS `Error` with `message` and `code`.
pub(crate) fn error(code: Code, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    let _ = js_sys::Reflect::set(&e, &JsValue::from_str("code"), &JsValue::from_str(code.as_str()));
    e.into()
}

/// A rejected promise carrying [`error`].
pub(crate) fn reject(code: Code, message: &str) -> js_sys::Promise {
    js_sys::Promise::reject(&error(code, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn every_code_is_in_the_typescript_declarations_and_on_the_error() {
        // The declarations are a custom section of the generated .d.ts: read them from their source.
        let listed = include_str!("types.rs").lines().find(|l| l.starts_with("export type CryptoHealthErrorCode")).unwrap_or_default();
        for code in Code::ALL {
            assert!(listed.contains(&format!("'{}'", code.as_str())), "{code:?} missing from CryptoHealthErrorCode: {listed}");
            let e = error(code, "m");
            assert!(e.is_instance_of::<js_sys::Error>());
            let got = js_sys::Reflect::get(&e, &JsValue::from_str("code")).ok().and_then(|c| c.as_string());
            assert_eq!(got.as_deref(), Some(code.as_str()));
        }
        assert_eq!(listed.matches('\'').count(), 2 * Code::ALL.len(), "no code listed that the crate does not throw: {listed}");
    }
}
