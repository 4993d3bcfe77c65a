//! Helpers with no domain of their own.
pub mod map;
pub mod text;

/// A JSON object from `"key": value` pairs, as `serde_json::json!` writes a
/// flat object, each value through `serde_json::to_value`. Unlike `json!`,
/// which unwraps each conversion, nothing here can panic (a value with no
/// JSON form is null): that panic path kept `Debug` of serde_json's errors,
/// with `char` escaping and Unicode tables, in the wasm.
macro_rules! obj {
    ({ $($k:literal : $v:expr),* $(,)? }) => {{
        let mut m = serde_json::Map::new();
        $( m.insert(::std::string::String::from($k), serde_json::to_value(&$v).unwrap_or(serde_json::Value::Null)); )*
        serde_json::Value::Object(m)
    }};
}
pub(crate) use obj;
