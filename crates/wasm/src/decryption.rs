//! `watchDecryption(mx)`: why messages fail to decrypt. js/decrypt.js listens
//! to the client's `Event.decrypted` and hands each result here; the core's
//! UTD tracker decides (grace period, causes, late decryptions).

use crate::errors::{self, Code};
use crate::{js, state};
use crypto_health_core::evidence::decryption::Failure;
use wasm_bindgen::prelude::*;

/// `info.kind`: `failed` (with roomId, code, message, hasAlgorithm), `decrypted`,
/// or `stopped` (no client watched any more).
fn on_result(info: JsValue, event_id: Option<String>) {
    let kind = js::prop_str(&info, "kind").unwrap_or_default();
    let (room_id, code, message) = (js::prop_str(&info, "roomId"), js::prop_str(&info, "code"), js::prop_str(&info, "message"));
    let has_algorithm = js::prop_bool(&info, "hasAlgorithm");
    let id = event_id.unwrap_or_default();
    let now = js::now();
    state::with(|s| match kind.as_str() {
        "failed" => s.diag.decryption_failed(
            &Failure { event_id: &id, room_id: room_id.as_deref(), code: code.as_deref(), message: message.as_deref(), has_algorithm },
            now,
        ),
        "decrypted" => s.diag.decrypted(&id, now),
        _ => s.diag.decryption_watch(false),
    });
}

/// Watch a MatrixClient's decryption results, read only (`MatrixEventEvent.Decrypted`
/// with `decryptionFailureReason`), for the report's `decryption` section.
/// Watching the same client again returns the same function. Returns the
/// function that stops watching.
#[wasm_bindgen(js_name = watchDecryption, unchecked_return_type = "() => void")]
pub fn watch_decryption(#[wasm_bindgen(unchecked_param_type = "unknown")] mx: JsValue) -> Result<JsValue, JsValue> {
    let hook =
        state::with(|s| s.utd_hook.get_or_insert_with(|| Closure::<dyn FnMut(JsValue, Option<String>)>::new(on_result)).as_ref().clone())
            .ok_or_else(|| errors::error(Code::Reentrant, "watchDecryption: called re-entrantly"))?;
    let unsubscribe = js::decrypt_watch(&mx, &hook);
    if unsubscribe.is_null() || unsubscribe.is_undefined() {
        return Err(errors::error(Code::InvalidArgument, "watchDecryption: mx must be a MatrixClient (an event emitter with on/off)"));
    }
    state::with(|s| s.diag.decryption_watch(true));
    Ok(unsubscribe)
}

/// The `decryption` section as it stands (per-cause counts, late decryptions), for the card.
#[wasm_bindgen(js_name = decryptionHealth, unchecked_return_type = "DecryptionSection")]
pub fn decryption_health() -> JsValue {
    let now = js::now();
    state::with(|s| js::to_js(&s.diag.decryption(now))).unwrap_or(JsValue::NULL)
}
