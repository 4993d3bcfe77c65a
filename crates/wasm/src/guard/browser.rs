//! The browser APIs the guard uses, each total: a missing API or one that
//! throws is `None`/`false`, never an exception into the app.

use super::options::Arg;
use crypto_health_core::environment::tab_guard::{Message, PREFIX};
use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, CustomEvent, CustomEventInit, Storage, Window};

pub(crate) fn window() -> Option<Window> {
    web_sys::window()
}

/// The page's monotonic clock (ms): expiry is judged by it, never by wall clocks.
pub(crate) fn mono() -> f64 {
    window().and_then(|w| w.performance()).map_or_else(js_sys::Date::now, |p| p.now())
}

/// Unix ms.
pub(crate) fn now() -> u64 {
    js_sys::Date::now() as u64
}

pub(crate) fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

fn set(o: &JsValue, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

/// One option as the core's checks see it (a throwing getter counts as absent).
pub(crate) fn arg(v: &JsValue) -> Arg {
    if v.is_undefined() || v.is_null() {
        Arg::Absent
    } else if let Some(s) = v.as_string() {
        Arg::Str(s)
    } else if let Some(n) = v.as_f64() {
        Arg::Number(n)
    } else if let Some(b) = v.as_bool() {
        Arg::Bool(b)
    } else if v.is_function() {
        Arg::Function
    } else {
        Arg::Other
    }
}

/// `options` itself: absent, an object, or something else.
pub(crate) fn whole(v: &JsValue) -> Arg {
    if v.is_object() {
        Arg::Other
    } else {
        arg(v)
    }
}

pub(crate) fn function(o: &JsValue, k: &str) -> Option<Function> {
    get(o, k).dyn_into::<Function>().ok()
}

/// A random tab id: `crypto.randomUUID()` (secure contexts only), else time + `Math.random`.
pub(crate) fn random_id() -> String {
    let crypto = window().and_then(|w| w.crypto().ok());
    if let Some(c) = crypto.filter(|c| get(c, "randomUUID").is_function()) {
        return c.random_uuid();
    }
    let radix36 = |x: f64| js_sys::Number::from(x).to_string_with_radix(36).map(String::from).unwrap_or_default();
    let r = radix36(js_sys::Math::random());
    format!("{}-{}", radix36(js_sys::Date::now()), r.get(2..10).unwrap_or(&r))
}

pub(crate) fn origin() -> String {
    window().and_then(|w| w.location().origin().ok()).unwrap_or_else(|| "unknown-origin".into())
}

pub(crate) fn secure_context() -> bool {
    window().is_none_or(|w| w.is_secure_context())
}

/// localStorage, if there is one (a getter may throw: sandboxed frames, disabled storage).
pub(crate) fn local_storage() -> Option<Storage> {
    window()?.local_storage().ok().flatten()
}

/// localStorage that can actually be written (Safari private mode, quota).
pub(crate) fn writable_storage() -> Option<Storage> {
    let ls = local_storage()?;
    let k = format!("{PREFIX}probe");
    (ls.set_item(&k, "1").is_ok() && ls.remove_item(&k).is_ok()).then_some(ls)
}

pub(crate) fn ls_get(ls: &Storage, k: &str) -> Option<String> {
    ls.get_item(k).ok().flatten()
}

pub(crate) fn channel(name: &str) -> Option<BroadcastChannel> {
    if !get(&js_sys::global(), "BroadcastChannel").is_function() {
        return None;
    }
    BroadcastChannel::new(name).ok()
}

/// An exception's text for a note.
pub(crate) fn error_text(e: &JsValue) -> String {
    let msg = get(e, "message");
    msg.as_string().or_else(|| e.as_string()).unwrap_or_else(|| "error".into())
}

/// `new CustomEvent(name, { detail })` on the window; nothing if it fails.
pub(crate) fn dispatch(name: &str, detail: &JsValue) {
    let Some(w) = window() else { return };
    let init = CustomEventInit::new();
    init.set_detail(detail);
    if let Ok(ev) = CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = w.dispatch_event(&ev);
    }
}

/// A message for the guard's channels.
pub(crate) fn message_object(from: &str, seq: u32, kind: &str, extra: &[(&str, &str)]) -> JsValue {
    let o: JsValue = js_sys::Object::new().into();
    set(&o, "v", &1.into());
    set(&o, "from", &from.into());
    set(&o, "seq", &seq.into());
    set(&o, "ts", &js_sys::Date::now().into());
    set(&o, "type", &kind.into());
    for (k, v) in extra {
        set(&o, k, &(*v).into());
    }
    o
}

/// A peer's message, or `None` for anything that is not one of ours.
pub(crate) fn message(data: &JsValue) -> Option<Message> {
    if !data.is_object() || get(data, "v").as_f64() != Some(1.0) {
        return None;
    }
    Some(Message {
        from: get(data, "from").as_string()?,
        seq: get(data, "seq").as_f64().unwrap_or(f64::NAN),
        kind: get(data, "type").as_string()?,
        to: get(data, "to").as_string(),
        cause: get(data, "cause").as_string(),
    })
}

/// The detail of a change: the state plus `previousRole` and `cause`.
pub(crate) fn detail(state: JsValue, previous_role: &str, cause: &str) -> JsValue {
    if state.is_object() {
        set(&state, "previousRole", &previous_role.into());
        set(&state, "cause", &cause.into());
    }
    state
}
