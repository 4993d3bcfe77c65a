//! `watchDecryption(mx)`: why messages fail to decrypt. js/decrypt.js listens
//! to the client's `Event.decrypted` and hands each result here; the core's
//! UTD tracker decides (grace period, causes, late decryptions).

use crate::{js, state};
use crypto_health_core::evidence::decryption::Failure;
use wasm_bindgen::prelude::*;

/// 0: failed, 1: decrypted, 2: no client watched any more.
fn on_result(kind: u8, event_id: String, room_id: Option<String>, code: Option<String>, message: Option<String>, has_algorithm: Option<bool>) {
    let now = js::now();
    state::with(|s| match kind {
        0 => s.diag.decryption_failed(
            &Failure { event_id: &event_id, room_id: room_id.as_deref(), code: code.as_deref(), message: message.as_deref(), has_algorithm },
            now,
        ),
        1 => s.diag.decrypted(&event_id, now),
        _ => s.diag.decryption_watch(false),
    });
}

/// Watch a MatrixClient's decryption results, read only (`MatrixEventEvent.Decrypted`
/// with `decryptionFailureReason`), for the report's `decryption` section.
/// Watching the same client again returns the same function. Returns the
/// function that stops watching.
#[wasm_bindgen(js_name = watchDecryption, unchecked_return_type = "() => void")]
pub fn watch_decryption(#[wasm_bindgen(unchecked_param_type = "unknown")] mx: JsValue) -> Result<JsValue, JsError> {
    let hook = state::with(|s| {
        s.utd_hook
            .get_or_insert_with(|| Closure::<dyn FnMut(u8, String, Option<String>, Option<String>, Option<String>, Option<bool>)>::new(on_result))
            .as_ref()
            .clone()
    })
    .ok_or_else(|| JsError::new("watchDecryption: called re-entrantly"))?;
    let unsubscribe = js::decrypt_watch(&mx, &hook);
    if unsubscribe.is_null() || unsubscribe.is_undefined() {
        return Err(JsError::new("watchDecryption: mx must be a MatrixClient (an event emitter with on/off)"));
    }
    state::with(|s| s.diag.decryption_watch(true));
    Ok(unsubscribe)
}
